/** zt's socket seam for tests that build proxies in-process: one libc and reactor per test module. */
import { Libc } from "../../lib/net/libc.ts";
import { Readiness } from "../../lib/net/readiness.ts";
import { SocketFactory } from "../../lib/net/socket_factory.ts";

let factory: SocketFactory | undefined;

/** A socket factory for zt's own namespace (no mark), like the node's in standalone mode. */
export function hostFactory(): SocketFactory {
  if (!factory) {
    const libc = Libc.open();
    factory = new SocketFactory({ libc, readiness: new Readiness(libc), connectTimeoutMs: 10_000 });
  }
  return factory;
}
