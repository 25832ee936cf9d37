/** A demo node: a NodeProcess with the views and waits the demo narrates. */
import { type LogRecord, NodeProcess } from "./node_process.ts";
import { formatSecrets, formatWorkloads } from "../admin/proxy_config_view.ts";

export interface DemoNode {
  readonly name: string;
  readonly ip: string;
  view(kind: "workloads" | "secrets"): Promise<string>;
  /** The first access log line of that direction, formatted like ztunnel's plain log. */
  waitForAccess(direction: "inbound" | "outbound"): Promise<string>;
  waitForPolicy(key: string, present: boolean): Promise<void>;
  waitForLog(pred: (l: LogRecord) => boolean): Promise<LogRecord>;
  stop(signal?: Deno.Signal): Promise<number>;
}

/** A JSON log record as ztunnel's plain log line: `LEVEL scope message key=value ...`. */
export function formatLogLine(rec: LogRecord): string {
  const { time: _t, level, scope, message, ...fields } = rec;
  const kv = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? JSON.stringify(v) : v}`);
  return `${String(level).toUpperCase()} ${scope} ${message} ${kv.join(" ")}`;
}

export async function startDemoNode(opts: {
  name: string;
  ip: string;
  caDir: string;
  configPath: string;
}): Promise<DemoNode> {
  const p = await NodeProcess.start({ ...opts, env: { RUST_LOG: "info" } });
  return {
    name: opts.name,
    ip: opts.ip,
    async view(kind) {
      const dump = await p.configDump();
      const text = kind === "workloads" ? formatWorkloads(dump) : formatSecrets(dump);
      return text.trimEnd().split("\n").map((l) => `  ${l}`).join("\n");
    },
    async waitForAccess(direction) {
      return formatLogLine(
        await p.waitForLog((l) => l.message === "connection complete" && l.direction === direction),
      );
    },
    async waitForPolicy(key, present) {
      for (let i = 0; i < 100; i++) {
        const dump = await p.configDump();
        const keys = ((dump.policies ?? []) as Array<{ name: string; namespace: string }>).map((x) =>
          `${x.namespace}/${x.name}`
        );
        if (keys.includes(key) === present) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${opts.name}: policy ${key} did not ${present ? "appear" : "go away"}`);
    },
    waitForLog: (pred) => p.waitForLog(pred),
    stop: (signal) => p.stop(signal),
  };
}
