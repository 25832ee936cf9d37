/** Talking to a running node's admin endpoint, with a clear error when it cannot be reached. */
import { ZtError } from "../error.ts";
import { isLoopback } from "../state/ip.ts";

/**
 * The admin address: --admin, else ADMIN_ADDR, else the node's own: INSTANCE_IP:15000 on a loopback node
 * (its INSTANCE_IP is its localhost), else 127.0.0.1:15000 (admin listens on localhost, as ztunnel's).
 */
export function adminAddress(flag: string | undefined, env: Record<string, string | undefined>): string {
  if (flag ?? env.ADMIN_ADDR) return (flag ?? env.ADMIN_ADDR)!;
  const ip = env.INSTANCE_IP;
  return ip && isLoopback(ip) ? `${ip.includes(":") ? `[${ip}]` : ip}:15000` : "127.0.0.1:15000";
}

export async function adminFetch(addr: string, path: string, init?: RequestInit): Promise<Response> {
  const url = `http://${addr}${path}`;
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  } catch (e) {
    throw new ZtError(
      "admin",
      `cannot reach the zt admin endpoint at ${addr} (${(e as Error).message}); is the node running? ` +
        `Use --admin host:port or ADMIN_ADDR.`,
    );
  }
}

export async function fetchConfigDump(addr: string): Promise<Record<string, unknown>> {
  const res = await adminFetch(addr, "/config_dump");
  if (!res.ok) throw new ZtError("admin", `${addr}/config_dump answered ${res.status}: ${await res.text()}`);
  return await res.json();
}
