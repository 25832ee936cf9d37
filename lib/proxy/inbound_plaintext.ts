/**
 * Inbound plaintext (15006, ztunnel's inbound passthrough): a captured TCP connection to a local pod
 * from a client outside the mesh. The original destination comes from the capture (SO_ORIGINAL_DST
 * after in-pod REDIRECT, the local address after node-level TPROXY). RBAC runs with no peer identity,
 * so a STRICT PeerAuthentication (a DENY on "no principal") refuses it and PERMISSIVE lets it through;
 * then zt connects to the app — from the client's own address where the pod's sockets can be made
 * transparent — and copies bytes.
 */
import type net from "node:net";
import type { RbacConnection } from "../policy/model.ts";
import { workloadIdentity } from "../state/route.ts";
import { PROXY_PORTS } from "../config/ports.ts";
import { canonicalIp, formatSocketAddr } from "../state/ip.ts";
import { errorMessage } from "../error.ts";
import { SocketRelay } from "./socket_relay.ts";
import { newTraceId } from "./connection_manager.ts";
import type { ConnectionRecord } from "./connection_reporter.ts";
import { connectApp, type InboundContext, type InboundDeps } from "./inbound.ts";
import type { SocketAddr } from "../state/ip.ts";

export class InboundPlaintext {
  constructor(readonly deps: InboundDeps) {}

  /** Serves one accepted connection to `original`, its original destination (a local pod). */
  async handle(ctx: InboundContext, client: net.Socket, original: SocketAddr): Promise<void> {
    const d = this.deps;
    const srcIp = canonicalIp(client.remoteAddress ?? "") ?? client.remoteAddress ?? "";
    const target = { ip: canonicalIp(original.ip) ?? original.ip, port: original.port };
    const base = {
      id: newTraceId(),
      direction: "inbound" as const,
      srcAddr: formatSocketAddr(srcIp, client.remotePort ?? 0),
      srcWorkload: d.state.workloadByIp("", srcIp),
      dstAddr: formatSocketAddr(target.ip, target.port),
      startedAt: performance.now(),
      mtls: false,
    };
    const fail = (error: string, responseFlags: string, rec: ConnectionRecord = base) => {
      client.destroy();
      d.reporter.completed(rec, d.reporter.opened(rec), { sent: 0, recv: 0, error, responseFlags });
    };
    if (PROXY_PORTS.has(target.port)) {
      return fail(`self call: ${base.dstAddr} is a zt proxy port`, "CONNECT");
    }
    const workload = d.state.workloadsWithIp(target.ip).find((w) => w.node === d.node);
    if (!workload) return fail(`${target.ip} is not a local pod`, "CONNECT");
    const rec: ConnectionRecord = { ...base, dstWorkload: workload, dstIdentity: workloadIdentity(workload) };
    const rbac: RbacConnection = { srcIp, dstIp: target.ip, dstPort: target.port };
    const decision = d.authorize(workload, rbac);
    if (!decision.allowed) {
      d.log.info("RBAC rejected", { conn: `${srcIp}(none)->${rec.dstAddr}`, reason: decision.reason });
      return fail(`connection closed due to policy rejection: ${decision.reason}`, "DENY", rec);
    }
    const handle = d.reporter.opened(rec);
    let app: net.Socket;
    try {
      app = await connectApp(ctx, target, srcIp);
    } catch (e) {
      client.destroy();
      d.reporter.completed(rec, handle, {
        sent: 0,
        recv: 0,
        error: errorMessage(e),
        responseFlags: "CONNECT",
      });
      return;
    }
    const counts = { sent: 0, recv: 0 };
    let error: string | undefined;
    const untrack = d.connections.register({
      id: rec.id,
      pod: ctx.podUid,
      direction: "inbound",
      src: rec.srcAddr,
      dst: rec.dstAddr,
      dstIdentity: rec.dstIdentity,
      startedAt: rec.startedAt,
      counts,
      recheck: () => {
        const w = d.state.workload(workload.uid);
        if (!w) return { allowed: false, reason: "destination workload removed", dryRunMatches: [] };
        return d.authorize(w, rbac);
      },
      abort: (reason) => {
        error ??= reason;
        relay.abort(new Error(reason));
      },
    });
    const relay: SocketRelay = new SocketRelay(client, app, counts, (e) => {
      if (e !== undefined) error ??= errorMessage(e);
      untrack();
      d.reporter.completed(rec, handle, { sent: counts.sent, recv: counts.recv, error });
    });
    relay.start();
  }
}
