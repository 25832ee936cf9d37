/**
 * Inbound plaintext (15006, ztunnel's inbound passthrough): a captured TCP connection to a local pod
 * from a client outside the mesh. The original destination is the accepted socket's local address
 * (TPROXY). RBAC runs with no peer identity, so a STRICT PeerAuthentication (a DENY on "no
 * principal") refuses it and PERMISSIVE lets it through; then zt connects to the app and copies bytes.
 *
 * zt cannot connect to the app from the client's address (Deno sockets cannot be made transparent
 * before bind), so the app sees the node; the client's real address is in the access log (`src.addr`)
 * and the metrics.
 */
import type { RbacConnection } from "../policy/model.ts";
import { PROXY_PORTS, workloadIdentity } from "../state/route.ts";
import { canonicalIp, formatSocketAddr } from "../state/ip.ts";
import { errorMessage } from "../error.ts";
import { closeQuietly, relayTcp } from "./copy.ts";
import { newTraceId } from "./connection_manager.ts";
import type { ConnectionRecord } from "./connection_reporter.ts";
import type { InboundDeps } from "./inbound.ts";

export class InboundPlaintext {
  constructor(readonly deps: InboundDeps) {}

  /** Serves one accepted connection whose `localAddr` is the original destination (a local pod). */
  async handle(client: Deno.TcpConn): Promise<void> {
    const d = this.deps;
    const peer = client.remoteAddr as Deno.NetAddr;
    const local = client.localAddr as Deno.NetAddr;
    const srcIp = canonicalIp(peer.hostname) ?? peer.hostname;
    const dstIp = canonicalIp(local.hostname) ?? local.hostname;
    const target = { ip: dstIp, port: local.port };
    const base = {
      id: newTraceId(),
      direction: "inbound" as const,
      srcAddr: formatSocketAddr(srcIp, peer.port),
      srcWorkload: d.state.workloadByIp("", srcIp),
      dstAddr: formatSocketAddr(target.ip, target.port),
      startedAt: performance.now(),
      mtls: false,
    };
    const fail = (error: string, responseFlags: string, rec: ConnectionRecord = base) => {
      closeQuietly(client);
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
    let app: Deno.TcpConn;
    try {
      app = await Deno.connect({ hostname: target.ip, port: target.port });
      app.setNoDelay(true);
    } catch (e) {
      closeQuietly(client);
      d.reporter.completed(rec, handle, {
        sent: 0,
        recv: 0,
        error: `connect to ${rec.dstAddr}: ${errorMessage(e)}`,
        responseFlags: "CONNECT",
      });
      return;
    }
    const counts = { sent: 0, recv: 0 };
    let error: string | undefined;
    const untrack = d.connections.register({
      id: rec.id,
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
        closeQuietly(client);
        closeQuietly(app);
      },
    });
    try {
      await relayTcp(client, app, counts);
    } catch (e) {
      error ??= errorMessage(e);
    } finally {
      untrack();
      d.reporter.completed(rec, handle, { sent: counts.sent, recv: counts.recv, error });
    }
  }
}
