/** A TCP server that accepts connections and never reads from them (an app that stopped consuming). */
export interface SinkServer {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): void;
}

export function startSinkServer(ip: string, port: number): SinkServer {
  const l = Deno.listen({ hostname: ip, port });
  const conns = new Set<Deno.Conn>();
  let accepted = 0;
  (async () => {
    try {
      for await (const c of l) {
        accepted++;
        conns.add(c);
      }
    } catch { /* closed */ }
  })();
  return {
    port: (l.addr as Deno.NetAddr).port,
    get accepted() {
      return accepted;
    },
    close() {
      l.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}
