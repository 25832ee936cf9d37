/**
 * Every live proxied connection, for the admin page, for re-checking inbound connections when
 * policies change (ztunnel's policy watcher) and for draining on shutdown.
 */
import type { Decision } from "../policy/model.ts";

export interface ConnectionInfo {
  readonly id: string;
  /** The local pod whose proxies carry it (ZDS uid in in-pod mode, workload uid otherwise). */
  readonly pod?: string;
  readonly direction: "inbound" | "outbound";
  readonly src: string;
  readonly dst: string;
  readonly hboneAddr?: string;
  readonly srcIdentity?: string;
  readonly dstIdentity?: string;
  readonly startedAt: number;
  /** Live counts from the client's point of view. */
  readonly counts: { readonly sent: number; readonly recv: number };
}

export interface TrackedConnection extends ConnectionInfo {
  /** Re-evaluates policy (inbound only); a deny decision closes the connection. */
  recheck?(): Decision;
  /** Tears the connection down now, with the reason for the access log. */
  abort(reason: string): void;
}

export class ConnectionManager {
  #conns = new Set<TrackedConnection>();
  #idle: Array<() => void> = [];

  register(c: TrackedConnection): () => void {
    this.#conns.add(c);
    return () => {
      this.#conns.delete(c);
      if (this.#conns.size === 0) {
        const w = this.#idle;
        this.#idle = [];
        for (const f of w) f();
      }
    };
  }

  get size(): number {
    return this.#conns.size;
  }

  list(): ConnectionInfo[] {
    return [...this.#conns];
  }

  /** The connections of one pod. */
  ofPod(pod: string): ConnectionInfo[] {
    return [...this.#conns].filter((c) => c.pod === pod);
  }

  /** Aborts every connection of one pod (its proxies stopped in Immediate mode). */
  abortPod(pod: string, reason: string): number {
    let n = 0;
    for (const c of [...this.#conns]) {
      if (c.pod !== pod) continue;
      c.abort(reason);
      n++;
    }
    return n;
  }

  /** Closes the tracked connections that policy now denies; returns how many were closed. */
  recheckAll(onDenied?: (c: TrackedConnection, d: Decision) => void): number {
    let closed = 0;
    for (const c of [...this.#conns]) {
      const d = c.recheck?.();
      if (d && !d.allowed) {
        onDenied?.(c, d);
        c.abort(`connection closed due to policy change: ${d.reason}`);
        closed++;
      }
    }
    return closed;
  }

  /** Waits for every connection to finish, up to `deadlineMs`; then aborts the rest. */
  async drain(deadlineMs: number): Promise<{ finished: boolean; aborted: number }> {
    if (this.#conns.size === 0) return { finished: true, aborted: 0 };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle = new Promise<boolean>((r) => this.#idle.push(() => r(true)));
    const deadline = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), deadlineMs)));
    const finished = await Promise.race([idle, deadline]);
    clearTimeout(timer);
    if (finished) return { finished: true, aborted: 0 };
    const rest = [...this.#conns];
    for (const c of rest) c.abort("connection closed: drain deadline reached");
    return { finished: false, aborted: rest.length };
  }
}

/** A random W3C trace id (32 hex digits), the per-connection id of logs and traceparent. */
export function newTraceId(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}
