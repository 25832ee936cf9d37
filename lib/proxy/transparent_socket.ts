/**
 * The one FFI module: libc's getsockname/getsockopt/setsockopt through Deno.dlopen, to find the fd of
 * a listener Deno (or node:net) already bound and set IP_TRANSPARENT / IPV6_TRANSPARENT on it. Done
 * once per listener at start-up; afterwards every accepted TPROXY connection's `localAddr` is its
 * original destination, with no per-connection system call of ours.
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
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  // errno is read by copying it out with memcpy: UnsafePointerView needs an unscoped --allow-ffi.
  memcpy: { parameters: ["buffer", "pointer", "usize"], result: "pointer" },
} as const;

const AF_INET = 2;
const AF_INET6 = 10;
const SOL_SOCKET = 1;
const SO_ACCEPTCONN = 30;
const SOL_IP = 0;
const IP_TRANSPARENT = 19;
const SOL_IPV6 = 41;
const IPV6_TRANSPARENT = 75;
const EBADF = 9;
const EPERM = 1;
/** The scan gives up after this many consecutive unused fds. */
const MAX_FD_GAP = 1024;
const MAX_FD = 1 << 20;

export interface ListenerAddr {
  readonly hostname: string;
  readonly port: number;
}

/** A bound socket's address as getsockname reports it. */
interface SockName {
  readonly family: 4 | 6;
  readonly ip: string;
  readonly port: number;
}

export class TransparentSockets {
  readonly #lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  readonly #addr = new Uint8Array(128);
  readonly #len = new Uint32Array(1);
  readonly #int = new Int32Array(1);

  private constructor(lib: Deno.DynamicLibrary<typeof SYMBOLS>, readonly libcPath: string) {
    this.#lib = lib;
  }

  /** Loads libc (by absolute path, so `--allow-ffi=<path>` suffices). */
  static open(libcPath?: string): TransparentSockets {
    if (Deno.build.os !== "linux") {
      throw new ZtError("capture", `transparent capture needs Linux (this is ${Deno.build.os})`);
    }
    const candidates = libcPath ? [libcPath] : LIBC_CANDIDATES[Deno.build.arch] ?? [];
    const errors: string[] = [];
    for (const path of candidates) {
      try {
        return new TransparentSockets(Deno.dlopen(path, SYMBOLS), path);
      } catch (e) {
        errors.push(`${path}: ${e instanceof Error ? e.message : e}`);
      }
    }
    throw new ZtError(
      "capture",
      `cannot load libc for IP_TRANSPARENT (${errors.join("; ") || "no candidate path"})`,
    );
  }

  #errno(): number {
    const p = this.#lib.symbols.__errno_location();
    if (!p) return 0;
    const out = new Int32Array(1);
    this.#lib.symbols.memcpy(new Uint8Array(out.buffer), p, 4n);
    return out[0];
  }

  #sockname(fd: number): SockName | undefined | "ebadf" {
    this.#len[0] = this.#addr.length;
    if (this.#lib.symbols.getsockname(fd, this.#addr, this.#len) !== 0) {
      return this.#errno() === EBADF ? "ebadf" : undefined;
    }
    const a = this.#addr;
    const family = a[0] | (a[1] << 8);
    const port = (a[2] << 8) | a[3];
    if (family === AF_INET) return { family: 4, ip: `${a[4]}.${a[5]}.${a[6]}.${a[7]}`, port };
    if (family === AF_INET6) {
      const groups: string[] = [];
      for (let i = 8; i < 24; i += 2) groups.push(((a[i] << 8) | a[i + 1]).toString(16));
      return { family: 6, ip: groups.join(":"), port };
    }
    return undefined;
  }

  #intOpt(fd: number, level: number, name: number): number | undefined {
    this.#len[0] = 4;
    const buf = new Uint8Array(this.#int.buffer);
    if (this.#lib.symbols.getsockopt(fd, level, name, buf, new Uint8Array(this.#len.buffer)) !== 0) {
      return undefined;
    }
    return this.#int[0];
  }

  /**
   * The fd of the listening socket bound to `addr`, found by a getsockname scan over the process's
   * fds (O(open fds): call it once per listener, never per connection). Accepted connections share
   * the listener's local address; SO_ACCEPTCONN tells them apart.
   */
  findListenerFd(addr: ListenerAddr): number {
    const want = normalizeIp(addr.hostname);
    let gap = 0;
    for (let fd = 0; fd < MAX_FD && gap < MAX_FD_GAP; fd++) {
      const n = this.#sockname(fd);
      if (n === "ebadf") {
        gap++;
        continue;
      }
      gap = 0;
      if (!n || n.port !== addr.port || normalizeIp(n.ip) !== want) continue;
      if (this.#intOpt(fd, SOL_SOCKET, SO_ACCEPTCONN) === 1) return fd;
    }
    throw new ZtError(
      "capture",
      `no listening socket bound to ${addr.hostname}:${addr.port} in this process`,
    );
  }

  /** Sets IP_TRANSPARENT (IPV6_TRANSPARENT on an IPv6 socket) on `fd`. Needs CAP_NET_ADMIN. */
  setTransparent(fd: number): void {
    const n = this.#sockname(fd);
    if (!n || n === "ebadf") throw new ZtError("capture", `fd ${fd} is not an IP socket`);
    const [level, name] = n.family === 6 ? [SOL_IPV6, IPV6_TRANSPARENT] : [SOL_IP, IP_TRANSPARENT];
    this.#int[0] = 1;
    if (this.#lib.symbols.setsockopt(fd, level, name, new Uint8Array(this.#int.buffer), 4) === 0) return;
    const errno = this.#errno();
    if (errno === EPERM) {
      throw new ZtError(
        "permission",
        `setting ${
          n.family === 6 ? "IPV6_TRANSPARENT" : "IP_TRANSPARENT"
        } needs CAP_NET_ADMIN: run zt as root or grant it`,
      );
    }
    throw new ZtError("capture", `setsockopt(transparent) on fd ${fd} failed: errno ${errno}`);
  }

  /** Whether the transparent flag is set on `fd`. */
  isTransparent(fd: number): boolean {
    const n = this.#sockname(fd);
    if (!n || n === "ebadf") return false;
    const v = n.family === 6
      ? this.#intOpt(fd, SOL_IPV6, IPV6_TRANSPARENT)
      : this.#intOpt(fd, SOL_IP, IP_TRANSPARENT);
    return v === 1;
  }

  /** Finds the listener bound to `addr` and makes it transparent; returns its fd. */
  makeListenerTransparent(addr: ListenerAddr): number {
    const fd = this.findListenerFd(addr);
    this.setTransparent(fd);
    return fd;
  }

  close(): void {
    this.#lib.close();
  }
}

/** Canonical text of an IPv4 or IPv6 address (v4-mapped IPv6 → IPv4) for comparing scan results. */
function normalizeIp(ip: string): string {
  let s = ip.replace(/^\[|\]$/g, "").toLowerCase();
  if (s === "::" || s === "0:0:0:0:0:0:0:0") return "::";
  const mapped = /^(?:0:0:0:0:0:|::)ffff:(.+)$/.exec(s);
  if (mapped) {
    const rest = mapped[1];
    if (rest.includes(".")) return rest;
    const [hi, lo] = rest.split(":").map((x) => parseInt(x, 16));
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  if (!s.includes(":")) return s;
  // Expand "::" and drop leading zeros so both spellings compare equal.
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const zeros = tail === undefined ? [] : Array(8 - h.length - t.length).fill("0");
  s = [...h, ...zeros, ...t].map((g) => parseInt(g, 16).toString(16)).join(":");
  return s;
}
