/** One libc + readiness per test file, closed at the end. */
import { Libc } from "../../lib/net/libc.ts";
import { Readiness } from "../../lib/net/readiness.ts";
import { SocketFactory, type SocketFactoryOptions } from "../../lib/net/socket_factory.ts";

export interface NetKit {
  readonly libc: Libc;
  readonly readiness: Readiness;
  factory(opts?: Partial<SocketFactoryOptions>): SocketFactory;
  close(): void;
}

export function netKit(): NetKit {
  const libc = Libc.open();
  const readiness = new Readiness(libc);
  return {
    libc,
    readiness,
    factory: (opts = {}) => new SocketFactory({ libc, readiness, ...opts }),
    close: () => {
      readiness.close();
      libc.close();
    },
  };
}

/** Collects everything a node socket receives until it ends; rejects on error. */
export function readAll(s: import("node:net").Socket): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = [];
    s.on("data", (d: Uint8Array) => parts.push(d));
    s.on("end", () => {
      const n = parts.reduce((a, p) => a + p.length, 0);
      const out = new Uint8Array(n);
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      resolve(out);
    });
    s.on("error", reject);
  });
}
