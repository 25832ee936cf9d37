/**
 * `zt policy check`: "why was this denied?" without sending traffic. Loads the mesh from a config
 * file (converted exactly as a node converts it) or from a running node's config_dump, then
 * evaluates one connection and prints the decision, the deciding policy and every applicable one.
 */
import { parseArgs } from "node:util";
import { errorMessage, ZtError } from "../error.ts";
import { Logger, LogSink } from "../log/logger.ts";
import { ProxyState } from "../state/proxy_state.ts";
import { loadLocalConfig } from "../state/local_config.ts";
import { applyLocalConfig } from "../state/apply_local_config.ts";
import { parseLocalWorkload } from "../state/local_workload.ts";
import { parseLocalService } from "../state/local_service.ts";
import { canonicalIp, parseSocketAddr } from "../state/ip.ts";
import { endpointTargetPort } from "../state/route.ts";
import { parsePolicy } from "../policy/dump.ts";
import { explain, formatExplanation } from "../policy/explain.ts";
import { PolicyIndex } from "../policy/evaluate.ts";
import type { RbacConnection } from "../policy/model.ts";
import { type Identity, parseIdentity } from "../identity/spiffe.ts";
import { adminAddress, fetchConfigDump } from "./admin_client.ts";

export const POLICY_CHECK_HELP =
  `zt policy check --from <identity|ip> --to <ip:port> [--config FILE|DIR | --admin host:port]

Prints the decision the destination's node would take for one connection, and why.
  --from   the source: a SPIFFE identity (spiffe://cluster.local/ns/a/sa/b or cluster.local/ns/a/sa/b),
           or an IP (a mesh pod's IP carries that pod's identity; any other IP is plaintext)
  --from-ip  the source IP when --from is an identity (default 0.0.0.0)
  --plaintext  treat the source as plaintext (no identity), e.g. a non-mesh client
  --to     the destination pod IP or service VIP, and port
  --config a local config (LOCAL_XDS_PATH format), or --admin a running node (default 127.0.0.1:15000; INSTANCE_IP:15000 on a loopback node)
Exit code: 0 allowed, 3 denied, 1 error.`;

export async function policyCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        from: { type: "string" },
        "from-ip": { type: "string" },
        plaintext: { type: "boolean" },
        to: { type: "string" },
        config: { type: "string" },
        admin: { type: "string" },
        "root-namespace": { type: "string", default: "istio-system" },
      },
    });
  } catch (e) {
    console.error(`zt policy: ${errorMessage(e)}\n\n${POLICY_CHECK_HELP}`);
    return 2;
  }
  const v = parsed.values;
  if (parsed.positionals[0] !== "check" || !v.from || !v.to) {
    console.error(POLICY_CHECK_HELP);
    return 2;
  }
  try {
    const state = v.config
      ? await stateFromFile(v.config, v["root-namespace"]!)
      : await stateFromNode(v.admin);
    const lines = check(state, v.from, v["from-ip"], v.plaintext ?? false, v.to);
    console.log(lines.text);
    return lines.allowed ? 0 : 3;
  } catch (e) {
    console.error(`zt policy check: ${errorMessage(e)}`);
    return 1;
  }
}

async function stateFromFile(path: string, rootNamespace: string): Promise<ProxyState> {
  const state = new ProxyState();
  const quiet = new Logger(new LogSink({ defaultLevel: "warn", components: new Map() }), "policy");
  applyLocalConfig(state, await loadLocalConfig(path), rootNamespace, quiet);
  return state;
}

async function stateFromNode(admin: string | undefined): Promise<ProxyState> {
  const dump = await fetchConfigDump(adminAddress(admin, Deno.env.toObject()));
  const workloads = ((dump.workloads ?? []) as unknown[]).map((w, i) =>
    parseLocalWorkload(w, `workloads[${i}]`)
  );
  const policies = ((dump.policies ?? []) as unknown[]).map((p, i) => parsePolicy(p, `policies[${i}]`));
  // config_dump services carry derived fields (endpoints); keep the ones the local format knows.
  const services = ((dump.services ?? []) as Array<Record<string, unknown>>).map((s, i) => {
    const { name, namespace, hostname, vips, ports } = s;
    return parseLocalService({ name, namespace, hostname, vips, ports }, `services[${i}]`);
  });
  const state = new ProxyState();
  state.replaceAll({ workloads, services, policies });
  return state;
}

/** The evaluation itself: pure over the state. */
export function check(
  state: ProxyState,
  from: string,
  fromIp: string | undefined,
  plaintext: boolean,
  to: string,
): { allowed: boolean; text: string } {
  const dst = parseSocketAddr(to);
  if (!dst) throw new ZtError("usage", `--to must be ip:port, got "${to}"`);
  let srcIp = fromIp ? canonicalIp(fromIp) : "0.0.0.0";
  if (!srcIp) throw new ZtError("usage", `--from-ip is not an IP: "${fromIp}"`);
  let identity: Identity | undefined;
  const ip = canonicalIp(from);
  if (ip) {
    srcIp = ip;
    const w = state.workloadByIp("", ip);
    if (w && w.protocol === "HBONE" && !plaintext) {
      identity = { trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount };
    }
  } else if (!plaintext) {
    identity = parseIdentity(from.startsWith("spiffe://") ? from : `spiffe://${from}`);
    if (!identity) throw new ZtError("usage", `--from is neither an IP nor a SPIFFE identity: "${from}"`);
  }
  // A pod IP is checked as is; a VIP is checked for each endpoint with its target port.
  const targets: Array<{ ip: string; port: number; uid: string }> = [];
  const direct = state.workloadByIp("", dst.ip);
  if (direct) targets.push({ ip: dst.ip, port: dst.port, uid: direct.uid });
  else {
    const svc = state.serviceByAddress("", dst.ip);
    if (!svc) throw new ZtError("usage", `${dst.ip} is neither a workload nor a service VIP in this mesh`);
    for (const ep of state.endpoints(`${svc.namespace}/${svc.hostname}`)) {
      const port = endpointTargetPort(ep, svc, dst.port);
      if (port !== undefined) targets.push({ ip: ep.workload.workloadIps[0], port, uid: ep.workload.uid });
    }
    if (targets.length === 0) {
      throw new ZtError("usage", `service ${svc.hostname} has no endpoint for port ${dst.port}`);
    }
  }
  const index = new PolicyIndex(state.allPolicies());
  const out: string[] = [];
  let allowed = true;
  for (const t of targets) {
    const w = state.workload(t.uid)!;
    const conn: RbacConnection = { srcIp, srcIdentity: identity, dstIp: t.ip, dstPort: t.port };
    const e = explain(index, w, conn);
    allowed &&= e.decision.allowed;
    out.push(`destination: ${w.namespace}/${w.name}`);
    out.push(formatExplanation(e, conn));
    if (e.decision.policy) out.push(`decided by: ${e.decision.policy}`);
  }
  return { allowed, text: out.join("\n") };
}
