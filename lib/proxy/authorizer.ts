/**
 * Destination-side authorization: the pure evaluator over the state's current policies, with the
 * compiled index rebuilt only when policies change, and ztunnel's decision trace logs.
 */
import type { Logger } from "../log/logger.ts";
import { evaluate, PolicyIndex } from "../policy/evaluate.ts";
import type { Decision, RbacConnection } from "../policy/model.ts";
import type { ProxyState } from "../state/proxy_state.ts";
import type { Workload } from "../state/types.ts";
import { formatIdentity } from "../identity/spiffe.ts";

export class Authorizer {
  #index?: PolicyIndex;

  constructor(readonly state: ProxyState, readonly log: Logger, readonly infoLogging = false) {}

  /** Policies changed: the next decision rebuilds the index. */
  invalidate(): void {
    this.#index = undefined;
  }

  get index(): PolicyIndex {
    return this.#index ??= new PolicyIndex(this.state.allPolicies());
  }

  decide(target: Workload, conn: RbacConnection): Decision {
    const d = evaluate(this.index, target, conn);
    const level = this.infoLogging ? "info" : "debug";
    if (d.dryRunMatches.length > 0) {
      this.log[level]("dry-run: policy matched", {
        policies: d.dryRunMatches.join(","),
        ...facts(target, conn),
      });
    }
    if (this.log.enabled(level)) {
      const msg = !d.allowed
        ? (d.policy ? "deny policy match" : "no allow policies matched")
        : (d.policy ? "allow policy match" : "no allow policies, allow");
      this.log[level](msg, { policy: d.policy, reason: d.reason, ...facts(target, conn) });
    }
    return d;
  }
}

function facts(target: Workload, conn: RbacConnection) {
  return {
    "dst.workload": target.name,
    "dst.namespace": target.namespace,
    "src.ip": conn.srcIp,
    "src.identity": conn.srcIdentity ? formatIdentity(conn.srcIdentity) : undefined,
    "dst.addr": `${conn.dstIp}:${conn.dstPort}`,
  };
}
