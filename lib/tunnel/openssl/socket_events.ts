/** The small event surface an H2Socket needs (data, drain, end, close, error), node-style `on`. */
import type { BufferLease } from "../h2/buffer_lease.ts";

type Listener = (arg?: unknown, arg2?: unknown) => void;

export type SocketEventName = "data" | "drain" | "end" | "close" | "error";

export class SocketEvents {
  readonly #listeners = new Map<SocketEventName, Listener[]>();
  /** Events emitted before anyone listened (data that arrived with the handshake), replayed in order. */
  #early: Array<[SocketEventName, unknown]> | undefined = [];

  on(event: "data", fn: (chunk: Uint8Array, lease?: BufferLease) => void): this;
  on(event: "drain" | "end" | "close", fn: () => void): this;
  on(event: "error", fn: (e: Error) => void): this;
  on(event: SocketEventName, fn: (arg: never) => void): this {
    const list = this.#listeners.get(event);
    if (list) list.push(fn as Listener);
    else this.#listeners.set(event, [fn as Listener]);
    if (event === "data" && this.#early) {
      // Replay once the caller has attached the rest of its listeners (same synchronous setup).
      queueMicrotask(() => {
        const early = this.#early ?? [];
        this.#early = undefined;
        for (const [e, arg] of early) this.emit(e, arg);
      });
    }
    return this;
  }

  /** Removes one listener added with `on`. */
  off(event: SocketEventName, fn: (arg: never) => void): this {
    const list = this.#listeners.get(event);
    const i = list?.indexOf(fn as Listener) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
    return this;
  }

  /** True while events are kept for listeners still to come (nothing emitted now is seen at once). */
  protected get buffering(): boolean {
    return this.#early !== undefined;
  }

  /** Calls the listeners in order. A throwing listener propagates to the emitting code path. */
  protected emit(event: SocketEventName, arg?: unknown, arg2?: unknown): void {
    // Until data listeners are attached, keep data and what follows it (end, close) so no byte is lost.
    if (
      this.#early && (event === "data" || (this.#early.length > 0 && (event === "end" || event === "close")))
    ) {
      this.#early.push([event, arg]);
      return;
    }
    const list = this.#listeners.get(event);
    if (!list) return;
    for (const fn of list.length === 1 ? list : [...list]) fn(arg, arg2);
  }
}
