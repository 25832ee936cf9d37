/**
 * The node's /etc/resolv.conf as ztunnel's forwarder reads it: the nameservers (port 53) and the
 * `timeout:` and `attempts:` options. Search domains are not used (the client already applied its own).
 */
import { canonicalIp, type SocketAddr } from "../state/ip.ts";

export interface ResolvConf {
  readonly nameservers: readonly SocketAddr[];
  readonly timeoutMs?: number;
  readonly attempts?: number;
}

export const RESOLV_CONF_PATH = "/etc/resolv.conf";

export function parseResolvConf(text: string): ResolvConf {
  const nameservers: SocketAddr[] = [];
  let timeoutMs: number | undefined;
  let attempts: number | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === "nameserver" && rest[0]) {
      const ip = canonicalIp(rest[0].replace(/%.*$/, ""));
      if (ip) nameservers.push({ ip, port: 53 });
    } else if (key === "options") {
      for (const opt of rest) {
        const m = /^(timeout|attempts):(\d+)$/.exec(opt);
        if (!m) continue;
        const n = Math.min(Number(m[2]), m[1] === "timeout" ? 30 : 5);
        if (m[1] === "timeout") timeoutMs = Math.max(1, n) * 1000;
        else attempts = Math.max(1, n);
      }
    }
  }
  return { nameservers, timeoutMs, attempts };
}

/** Reads and parses the file; a missing or unreadable file is no servers (forwarding then SERVFAILs). */
export function readResolvConf(path = RESOLV_CONF_PATH): { conf: ResolvConf; error?: string } {
  try {
    return { conf: parseResolvConf(Deno.readTextFileSync(path)) };
  } catch (e) {
    return { conf: { nameservers: [] }, error: e instanceof Error ? e.message : String(e) };
  }
}
