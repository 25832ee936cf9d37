/**
 * Driving the istioctl config_dump peer (this directory's Go program, built by tests/fakes/go_peer.ts):
 * what `istioctl ztunnel-config workloads|services|policies|certificates|connections|all` prints for a
 * dump, in its table form and with `-o json`, from istioctl's own reader (its Go structs and writer).
 */
import { goPeer } from "../../fakes/go_peer.ts";

export const ISTIOCTL_DUMP_DIR: string = new URL(".", import.meta.url).pathname.replace(/\/$/, "");

export const ISTIOCTL_COMMANDS = [
  "workloads",
  "services",
  "policies",
  "certificates",
  "connections",
  "all",
] as const;
export type IstioctlCommand = (typeof ISTIOCTL_COMMANDS)[number];

/** One command's output: the table (`-o short`, the default) and `-o json`. */
export interface IstioctlOutput {
  readonly short: string;
  readonly json: string;
}

export type IstioctlView = Readonly<Record<IstioctlCommand, IstioctlOutput>>;

/** The peer's binary, built on first use (cached across runs); throws when it cannot be built. */
export async function istioctlDumpBinary(): Promise<string> {
  const p = await goPeer(ISTIOCTL_DUMP_DIR);
  if (p.kind === "unavailable") throw new Error(`istioctl_dump peer: ${p.reason}`);
  return p.path;
}

/**
 * Runs the peer on a dump given as text (`{dump}`) or fetched from `{url}` by the peer itself, with
 * `wrap` in front of its argv (e.g. `ip netns exec POD`, so it reaches the pod's localhost).
 */
export async function istioctlView(
  source: { readonly dump: string } | { readonly url: string },
  wrap: readonly string[] = [],
): Promise<IstioctlView> {
  const bin = await istioctlDumpBinary();
  const argv = [...wrap, bin, "dump" in source ? "-" : source.url];
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  if ("dump" in source) await writer.write(new TextEncoder().encode(source.dump));
  await writer.close();
  const out = await child.output();
  const dec = new TextDecoder();
  if (!out.success) throw new Error(`istioctl_dump failed (${out.code}): ${dec.decode(out.stderr)}`);
  return JSON.parse(dec.decode(out.stdout)) as IstioctlView;
}

/** A tabwriter table as rows of cells (header first); cells hold no spaces in these tests. */
export function tableRows(short: string): string[][] {
  return short.trim().split("\n").filter((l) => l.trim()).map((l) => l.trim().split(/\s+/));
}
