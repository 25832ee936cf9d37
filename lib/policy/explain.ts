/**
 * The pure core of `zt policy check`: the decision for one connection, plus which policies applied
 * (and how), which of them matched, and which listed keys are unknown.
 */
import { formatIdentity } from "../identity/spiffe.ts";
import { ConnFacts, policyMatches } from "./compile.ts";
import { type AppliesVia, evaluate, forEachApplicable, type PolicyIndex } from "./evaluate.ts";
import type { Action, Decision, PolicyTarget, RbacConnection } from "./model.ts";

export interface ExplainedPolicy {
  readonly key: string;
  readonly action: Action;
  readonly dryRun: boolean;
  readonly via: AppliesVia;
  readonly matched: boolean;
}

export interface Explanation {
  readonly decision: Decision;
  /** Each applicable policy once, in ztunnel's order (namespace, global, workload-listed). */
  readonly applicable: ExplainedPolicy[];
  /** Keys the workload lists that no policy has (ztunnel skips them with a warning). */
  readonly unknownKeys: string[];
}

export function explain(index: PolicyIndex, target: PolicyTarget, conn: RbacConnection): Explanation {
  const facts = new ConnFacts(conn);
  const applicable: ExplainedPolicy[] = [];
  const unknownKeys: string[] = [];
  const seen = new Set<string>();
  forEachApplicable(index, target, (cp, via) => {
    if (seen.has(cp.key)) return;
    seen.add(cp.key);
    const { action, dryRun } = cp.policy;
    applicable.push({ key: cp.key, action, dryRun, via, matched: policyMatches(cp, facts) });
  }, (key) => unknownKeys.push(key));
  return { decision: evaluate(index, target, conn), applicable, unknownKeys };
}

function describeConn(conn: RbacConnection): string {
  const id = conn.srcIdentity ? formatIdentity(conn.srcIdentity) : "no identity (plaintext)";
  return `${conn.srcIp} (${id}) -> ${conn.dstIp}:${conn.dstPort}`;
}

/** A human explanation, one fact per line. */
export function formatExplanation(e: Explanation, conn: RbacConnection): string {
  const lines = [
    `connection: ${describeConn(conn)}`,
    `decision: ${e.decision.allowed ? "ALLOW" : "DENY"} (${e.decision.reason})`,
  ];
  if (e.applicable.length === 0) lines.push("applicable policies: none");
  else lines.push(`applicable policies (${e.applicable.length}):`);
  for (const p of e.applicable) {
    const mode = p.dryRun ? " dry-run" : "";
    lines.push(
      `  ${p.key} ${p.action.toUpperCase()}${mode} via ${p.via}: ${p.matched ? "matched" : "no match"}`,
    );
  }
  for (const k of e.unknownKeys) lines.push(`  ${k}: listed by the workload but unknown (skipped)`);
  if (e.decision.dryRunMatches.length > 0) {
    lines.push(`dry-run matches (not enforced): ${e.decision.dryRunMatches.join(", ")}`);
  }
  return lines.join("\n");
}
