/**
 * L4 authorization throughput: 10,000 policies of 10 rules each across 1,000 namespaces (ztunnel's
 * rbac bench shape: the destination's namespace policies apply, the rest of the mesh must not cost).
 * Each rule is a principal clause, a port clause and a source-IP clause; most connections match no
 * rule, so every applicable rule is walked.
 */
import { evaluate, PolicyIndex } from "../lib/policy/evaluate.ts";
import type { Authorization, RbacConnection, Rule } from "../lib/policy/model.ts";
import { emptyMatch } from "../lib/policy/model.ts";

const POLICIES = 10_000;
const RULES = 10;
const NAMESPACES = 1_000;

function rule(ns: number, p: number, r: number): Rule {
  return [
    [
      {
        ...emptyMatch(),
        principals: [{ kind: "exact", value: `cluster.local/ns/ns-${ns}/sa/sa-${p}-${r}` }],
      },
      {
        ...emptyMatch(),
        namespaces: [{ kind: "prefix", value: `team-${r}-` }],
      },
    ],
    [{ ...emptyMatch(), destinationPorts: [8000 + r, 9000 + r] }],
    [{ ...emptyMatch(), sourceIps: [{ ip: `10.${ns % 256}.${r}.0`, prefixLen: 24 }] }],
  ];
}

function buildPolicies(): Authorization[] {
  const out: Authorization[] = [];
  for (let i = 0; i < POLICIES; i++) {
    const ns = i % NAMESPACES;
    out.push({
      name: `policy-${i}`,
      namespace: `ns-${ns}`,
      scope: "Namespace",
      action: Math.floor(i / NAMESPACES) % 4 === 2 ? "Deny" : "Allow",
      rules: Array.from({ length: RULES }, (_, r) => rule(ns, i, r)),
      dryRun: false,
    });
  }
  return out;
}

export async function benchPolicyDecisions(): Promise<{
  decisionsPerSecond: number;
  policies: number;
  rulesPerPolicy: number;
  buildMs: number;
}> {
  const policies = buildPolicies();
  const t0 = performance.now();
  const index = new PolicyIndex(policies);
  const buildMs = performance.now() - t0;
  const target = { namespace: "ns-7", authorizationPolicies: [] };
  const conns: RbacConnection[] = [
    // no rule matches: every applicable rule is walked, "allow policies exist, but none allowed"
    {
      srcIp: "10.7.3.9",
      srcIdentity: { trustDomain: "cluster.local", namespace: "x", serviceAccount: "y" },
      dstIp: "10.1.0.5",
      dstPort: 8003,
    },
    // matches the last rule of an ALLOW policy
    {
      srcIp: "10.7.9.1",
      srcIdentity: { trustDomain: "cluster.local", namespace: "ns-7", serviceAccount: "sa-9007-9" },
      dstIp: "10.1.0.5",
      dstPort: 9009,
    },
    // plaintext
    { srcIp: "192.168.1.1", dstIp: "10.1.0.5", dstPort: 8080 },
  ];
  for (let i = 0; i < 20_000; i++) evaluate(index, target, conns[i % conns.length]); // warm up
  await Promise.resolve();
  let n = 0;
  let allowed = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < 1000) {
    for (let i = 0; i < 1000; i++, n++) {
      if (evaluate(index, target, conns[n % conns.length]).allowed) allowed++;
    }
    elapsed = performance.now() - start;
  }
  if (allowed === 0) throw new Error("benchmark connection set never allowed: the bench is miswired");
  return {
    decisionsPerSecond: Math.round((n / elapsed) * 1000),
    policies: index.size,
    rulesPerPolicy: RULES,
    buildMs: Math.round(buildMs),
  };
}

if (import.meta.main) console.log(await benchPolicyDecisions());
