/**
 * The one FFI module: the libc calls zt's socket seam needs, through Deno.dlopen by absolute path (so a
 * path-scoped --allow-ffi suffices), and their constants for Linux on x86_64 and arm64. Every call is
 * synchronous and non-blocking except `pollAsync`, which runs on a worker thread (the readiness
 * reactor's one wait). errno is read right after a failing synchronous call, on the same thread.
 */
import { ZtError } from "../error.ts";

/** Where libc lives on the distributions zt runs on; the first that loads wins. */
const LIBC_CANDIDATES: Readonly<Record<string, readonly string[]>> = {
  x86_64: [
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/lib64/libc.so.6",
    "/usr/lib64/libc.so.6",
  ],
  aarch64: [
    "/lib/aarch64-linux-gnu/libc.so.6",
    "/usr/lib/aarch64-linux-gnu/libc.so.6",
    "/lib64/libc.so.6",
    "/usr/lib64/libc.so.6",
  ],
};

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  fcntl: { parameters: ["i32", "i32"], result: "i32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  pollAsync: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  __errno_location: { parameters: [], result: "pointer" },
  // errno is copied out with memcpy: UnsafePointerView would need an unscoped --allow-ffi.
  memcpy: { parameters: ["buffer", "pointer", "usize"], result: "pointer" },
  // A buffer's address (memcpy returns its destination), for pointers inside msghdr/iovec structs:
  // Deno.UnsafePointer.of would also need an unscoped --allow-ffi.
  addressOf: { name: "memcpy", parameters: ["buffer", "buffer", "usize"], result: "usize" },
} as const;

export type LibcSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Linux constants (identical on x86_64 and arm64). */
export const C = {
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_SEQPACKET: 5,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  O_RDONLY: 0,
  O_CLOEXEC: 0o2000000,
  EFD_NONBLOCK: 0o4000,
  EFD_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_REUSEADDR: 2,
  SO_ERROR: 4,
  SO_KEEPALIVE: 9,
  SO_LINGER: 13,
  SO_REUSEPORT: 15,
  SO_ACCEPTCONN: 30,
  SO_MARK: 36,
  SOL_IP: 0,
  IP_FREEBIND: 15,
  IP_TRANSPARENT: 19,
  SO_ORIGINAL_DST: 80,
  SOL_IPV6: 41,
  IPV6_V6ONLY: 26,
  IPV6_TRANSPARENT: 75,
  IPV6_FREEBIND: 78,
  IP6T_SO_ORIGINAL_DST: 80,
  SOL_TCP: 6,
  TCP_NODELAY: 1,
  TCP_KEEPIDLE: 4,
  TCP_KEEPINTVL: 5,
  TCP_KEEPCNT: 6,
  TCP_USER_TIMEOUT: 18,
  SCM_RIGHTS: 1,
  MSG_CTRUNC: 0x8,
  MSG_TRUNC: 0x20,
  MSG_DONTWAIT: 0x40,
  MSG_NOSIGNAL: 0x4000,
  MSG_CMSG_CLOEXEC: 0x40000000,
  CLONE_NEWNET: 0x40000000,
  POLLIN: 0x1,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  RLIMIT_NOFILE: 7,
} as const;

/** errno values zt tells apart. */
export const E = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  EPIPE: 32,
  EPROTO: 71,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETUNREACH: 101,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
  EINPROGRESS: 115,
} as const;

const ERRNO_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(E).map(([k, v]) => [v, k]),
);

/** "ECONNREFUSED" for 111; "errno 42" for the ones zt has no name for. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** strerror(3)'s text for the errnos zt reports. */
const ERRNO_TEXT: Record<number, string> = {
  [E.EPERM]: "Operation not permitted",
  [E.ENOENT]: "No such file or directory",
  [E.EACCES]: "Permission denied",
  [E.EINVAL]: "Invalid argument",
  [E.ENFILE]: "Too many open files in system",
  [E.EMFILE]: "Too many open files",
  [E.EPIPE]: "Broken pipe",
  [E.EADDRINUSE]: "Address already in use",
  [E.EADDRNOTAVAIL]: "Cannot assign requested address",
  [E.ENETUNREACH]: "Network is unreachable",
  [E.ECONNABORTED]: "Software caused connection abort",
  [E.ECONNRESET]: "Connection reset by peer",
  [E.ENOBUFS]: "No buffer space available",
  [E.ETIMEDOUT]: "Connection timed out",
  [E.ECONNREFUSED]: "Connection refused",
  [E.EHOSTUNREACH]: "No route to host",
};

/** As Rust's io::Error prints it, and so ztunnel's logs: "Connection refused (os error 111)". */
export function errnoText(errno: number): string {
  const text = ERRNO_TEXT[errno];
  return text ? `${text} (os error ${errno})` : `${errnoName(errno)} (os error ${errno})`;
}

/** A failed system call: `errno` is the machine-readable part. */
export class SyscallError extends ZtError {
  constructor(readonly syscall: string, readonly errno: number, detail = "") {
    super("syscall", `${syscall}${detail ? ` ${detail}` : ""}: ${errnoText(errno)}`);
  }
}

/** libc, loaded once per process by whoever builds the socket seam (lib/app.ts), then passed down. */
export class Libc {
  readonly #lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  readonly #errno = new Int32Array(1);
  readonly #errnoBytes = new Uint8Array(this.#errno.buffer);
  readonly #int = new Int32Array(1);
  readonly #intBytes = new Uint8Array(this.#int.buffer);
  readonly #len = new Uint32Array(1);
  readonly #lenBytes = new Uint8Array(this.#len.buffer);

  private constructor(lib: Deno.DynamicLibrary<typeof SYMBOLS>, readonly path: string) {
    this.#lib = lib;
  }

  /** Loads libc from `path`, or from the first candidate for this architecture that loads. */
  static open(path?: string): Libc {
    if (Deno.build.os !== "linux") {
      throw new ZtError("platform", `zt's sockets need Linux (this is ${Deno.build.os})`);
    }
    const candidates = path ? [path] : LIBC_CANDIDATES[Deno.build.arch] ?? [];
    const errors: string[] = [];
    for (const p of candidates) {
      try {
        return new Libc(Deno.dlopen(p, SYMBOLS), p);
      } catch (e) {
        errors.push(`${p}: ${e instanceof Error ? e.message : e}`);
      }
    }
    throw new ZtError("platform", `cannot load libc (${errors.join("; ") || "no candidate path"})`);
  }

  get sym(): LibcSymbols {
    return this.#lib.symbols;
  }

  /** errno of the last failed call on this thread. */
  errno(): number {
    const p = this.#lib.symbols.__errno_location();
    if (!p) return 0;
    this.#lib.symbols.memcpy(this.#errnoBytes, p, 4n);
    return this.#errno[0];
  }

  /** Throws SyscallError (with errno) when `rc` is negative; returns `rc` otherwise. */
  check(rc: number | bigint, syscall: string, detail?: string): number {
    const n = Number(rc);
    if (n < 0) throw new SyscallError(syscall, this.errno(), detail);
    return n;
  }

  setInt(fd: number, level: number, name: number, value: number, what: string): void {
    this.#int[0] = value;
    this.check(this.#lib.symbols.setsockopt(fd, level, name, this.#intBytes, 4), "setsockopt", what);
  }

  /** An int socket option, or undefined when the call fails. */
  getInt(fd: number, level: number, name: number): number | undefined {
    this.#len[0] = 4;
    if (this.#lib.symbols.getsockopt(fd, level, name, this.#intBytes, this.#lenBytes) !== 0) return undefined;
    return this.#int[0];
  }

  /**
   * The address of `buf`'s memory, to store in a struct a call reads pointers from. `buf` must be backed
   * by its own ArrayBuffer (`new Uint8Array(new ArrayBuffer(n))`: V8 never moves those) and stay
   * referenced until the call that uses the address has returned.
   */
  addressOf(buf: Uint8Array): bigint {
    return BigInt(this.#lib.symbols.addressOf(buf, buf, 0n));
  }

  /** Closes an fd zt owns (never one a Deno or node object still holds). */
  closeFd(fd: number): void {
    this.#lib.symbols.close(fd);
  }

  close(): void {
    this.#lib.close();
  }
}
