/**
 * zt's `config` costs: policy decisions/s with 10,000 policies (bench/policy_decisions.ts,
 * `benchPolicyDecisions()`), and xDS push apply time (bench/xds_push.ts, `benchXdsPush()` returning
 * at least `{ applyMs }`). Either module may not exist yet; that is reported, not thrown.
 * As a program (`deno run -A bench/config_costs.ts`) it prints one JSON line, so the harness runs
 * each measurement in a fresh process.
 */
import type { ConfigCostRun } from "./results.ts";

const POLICY_MODULE = "./policy_decisions.ts";
const XDS_MODULE = "./xds_push.ts";

function message(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0] : String(e);
}

// deno-lint-ignore no-explicit-any
async function load(rel: string, fn: string): Promise<((...a: any[]) => Promise<any>) | string> {
  const url = new URL(rel, import.meta.url);
  try {
    Deno.statSync(url);
  } catch {
    return `not available: bench/${rel.slice(2)} does not exist`;
  }
  try {
    const mod = await import(url.href);
    if (typeof mod[fn] !== "function") return `not available: bench/${rel.slice(2)} does not export ${fn}()`;
    return mod[fn];
  } catch (e) {
    return `not available: importing bench/${rel.slice(2)} failed: ${message(e)}`;
  }
}

function finite(o: Record<string, unknown>, keys: string[]): string | undefined {
  const bad = keys.filter((k) => typeof o?.[k] !== "number" || !Number.isFinite(o[k]));
  return bad.length ? `returned no finite ${bad.join(", ")}` : undefined;
}

export async function measureConfigCosts(): Promise<ConfigCostRun> {
  const out: ConfigCostRun = {};
  const policy = await load(POLICY_MODULE, "benchPolicyDecisions");
  if (typeof policy === "string") out.policyError = policy;
  else {
    try {
      const r = await policy();
      const bad = finite(r, ["decisionsPerSecond", "policies", "rulesPerPolicy", "buildMs"]);
      if (bad) out.policyError = `benchPolicyDecisions() ${bad}`;
      else out.policy = r;
    } catch (e) {
      out.policyError = `benchPolicyDecisions() failed: ${message(e)}`;
    }
  }
  const xds = await load(XDS_MODULE, "benchXdsPush");
  if (typeof xds === "string") out.xdsError = xds;
  else {
    try {
      const r = await xds();
      const bad = finite(r, ["applyMs"]);
      if (bad) out.xdsError = `benchXdsPush() ${bad}`;
      else out.xds = r;
    } catch (e) {
      out.xdsError = `benchXdsPush() failed: ${message(e)}`;
    }
  }
  return out;
}

/** Runs {@link measureConfigCosts} in a child process (fresh heap and JIT each run). */
export async function configCostsInChild(timeoutMs = 300000): Promise<ConfigCostRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    // --expose-gc lets the xDS measurement read its heap after a full collection.
    args: ["run", "-A", "--v8-flags=--expose-gc", new URL(import.meta.url).pathname],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const dec = new TextDecoder();
  const last = dec.decode(out.stdout).trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(last);
  } catch {
    const why = `config_costs.ts exited ${out.code}: ${
      dec.decode(out.stderr).trim().slice(-300) || "no output"
    }`;
    return { policyError: why, xdsError: why };
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await measureConfigCosts()));
}
