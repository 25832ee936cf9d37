/**
 * Network namespaces: a pod's (from a path such as /var/run/netns/NAME, or an fd istio-cni sent over
 * ZDS) and zt's own. `run(fn)` switches this thread into the namespace, runs `fn` — which must only
 * create sockets, synchronously: nothing may be awaited in between — and switches back. A socket stays
 * in the namespace it was created in, whatever the thread does afterwards.
 */
import { ZtError } from "../error.ts";
import { C, type Libc, SyscallError } from "./libc.ts";

/** A namespace's identity: (st_dev, st_ino) of its nsfs file, as ztunnel compares them. */
export interface NetnsId {
  readonly dev: bigint;
  readonly ino: bigint;
}

function statId(libc: Libc, fd: number, what: string): NetnsId {
  const st = new Uint8Array(new ArrayBuffer(256));
  libc.check(libc.sym.fstat(fd, st), "fstat", what);
  const dv = new DataView(st.buffer);
  // struct stat on x86_64 and arm64 Linux both start with u64 st_dev, u64 st_ino.
  return { dev: dv.getBigUint64(0, true), ino: dv.getBigUint64(8, true) };
}

function openPath(libc: Libc, path: string): number {
  const cpath = new TextEncoder().encode(`${path}\0`);
  return libc.check(libc.sym.open(cpath, C.O_RDONLY | C.O_CLOEXEC), "open", path);
}

export class NetNamespace {
  #fd: number;
  readonly id: NetnsId;

  private constructor(
    readonly libc: Libc,
    fd: number,
    readonly label: string,
    readonly home: NetNamespace | undefined,
  ) {
    this.#fd = fd;
    this.id = statId(libc, fd, label);
  }

  /** zt's own namespace (this thread's, now): where every switch returns to. */
  static current(libc: Libc): NetNamespace {
    return new NetNamespace(libc, openPath(libc, "/proc/thread-self/ns/net"), "self", undefined);
  }

  /** A pod's namespace by path (`ip netns add` makes /var/run/netns/NAME). */
  static open(libc: Libc, path: string, home: NetNamespace): NetNamespace {
    return new NetNamespace(libc, openPath(libc, path), path, home);
  }

  /** A pod's namespace from an fd zt now owns (received with SCM_RIGHTS); closed by `close()`. */
  static adopt(libc: Libc, fd: number, label: string, home: NetNamespace): NetNamespace {
    try {
      return new NetNamespace(libc, fd, label, home);
    } catch (e) {
      libc.closeFd(fd);
      throw e;
    }
  }

  get fd(): number {
    return this.#fd;
  }

  sameAs(other: NetNamespace): boolean {
    return this.id.dev === other.id.dev && this.id.ino === other.id.ino;
  }

  /**
   * Runs `fn` with this thread inside the namespace. Failing to enter is an error (the pod cannot be
   * served); failing to come back would leave every later socket in the wrong place, so it is fatal.
   */
  run<T>(fn: () => T): T {
    const home = this.home;
    if (!home || this.sameAs(home)) return fn();
    if (this.#fd < 0) throw new ZtError("netns", `namespace ${this.label} is closed`);
    const sym = this.libc.sym;
    if (sym.setns(this.#fd, C.CLONE_NEWNET) !== 0) {
      const errno = this.libc.errno();
      throw new SyscallError("setns", errno, `into ${this.label}`);
    }
    try {
      return fn();
    } finally {
      if (sym.setns(home.#fd, C.CLONE_NEWNET) !== 0) {
        const err = new SyscallError("setns", this.libc.errno(), "back to zt's own namespace");
        console.error(`zt: fatal: ${err.message}`);
        Deno.exit(70);
      }
    }
  }

  close(): void {
    if (this.#fd < 0) return;
    this.libc.closeFd(this.#fd);
    this.#fd = -1;
  }
}
