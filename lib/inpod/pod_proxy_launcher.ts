/**
 * In-pod mode's PodLauncher: for each pod istio-cni enrolls, a PodProxy whose socket factory creates
 * every socket inside the pod's network namespace, marked PACKET_MARK — listeners 15008/15006/15001
 * there, outbound HBONE and passthrough from there (so istio-cni's rules let them pass), connections to
 * the app there (from the client's address when IP_TRANSPARENT is permitted). The pod's xDS workload is
 * found by (name, namespace, service account) among node-local workloads; a pod xDS does not know yet
 * is served as ztunnel serves it: proxies up, connections wait for it (5 s) and then fail.
 */
import type { Logger } from "../log/logger.ts";
import type { NetNamespace } from "../net/netns.ts";
import type { SocketFactory } from "../net/socket_factory.ts";
import type { TransparentMode } from "../net/socket_options.ts";
import type { ProxyState } from "../state/proxy_state.ts";
import type { Workload } from "../state/types.ts";
import type { WorkloadCertificate } from "../identity/certificate.ts";
import { formatIdentity, type Identity } from "../identity/spiffe.ts";
import type { ConnectionManager } from "../proxy/connection_manager.ts";
import { type PodHandlers, PodProxy, type PodProxyOptions } from "../proxy/pod_proxy.ts";
import { identityOf } from "../proxy/pod_proxies.ts";
import { errorMessage } from "../error.ts";
import type { PodLauncher, RunningPod, WorkloadInfo } from "./pod_launcher.ts";

export interface PodProxyLauncherOptions {
  /** zt's own factory; each pod gets one derived from it (its netns, `mark`). */
  readonly factory: SocketFactory;
  /** PACKET_MARK (ztunnel: 1337 in shared mode). */
  readonly mark?: number;
  readonly node: string;
  readonly state: ProxyState;
  readonly certs: { get(id: Identity): Promise<WorkloadCertificate> };
  readonly connections: ConnectionManager;
  readonly handlers: PodHandlers;
  /** ENABLE_ORIG_SRC: "try" (ztunnel's default, best effort), "require", or "off". */
  readonly transparent: TransparentMode;
  readonly proxy: Pick<PodProxyOptions, "h2" | "tls" | "socks5" | "onRejected" | "onAcceptError">;
  readonly log: Logger;
}

interface Pod {
  readonly proxy: PodProxy;
  readonly info: WorkloadInfo;
  /** The identity whose certificate the pod's HBONE listener has (once its workload is known). */
  identity?: string;
}

export class PodProxyLauncher implements PodLauncher {
  readonly #o: PodProxyLauncherOptions;
  readonly #pods = new Map<string, Pod>();

  constructor(opts: PodProxyLauncherOptions) {
    this.#o = opts;
  }

  /** Running pods (ZDS uid → identity), for logs and tests. */
  get pods(): ReadonlyMap<string, { readonly identity?: string }> {
    return this.#pods;
  }

  #workload(info: WorkloadInfo): Workload | undefined {
    return this.#o.state.findByInfo(this.#o.node, info);
  }

  #waitWorkload(info: WorkloadInfo, ms: number): Promise<Workload | undefined> {
    const now = this.#workload(info);
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => {
      const done = (w: Workload | undefined) => {
        clearTimeout(timer);
        off();
        resolve(w);
      };
      const off = this.#o.state.onChange(() => {
        const w = this.#workload(info);
        if (w) done(w);
      });
      const timer = setTimeout(() => done(undefined), ms);
    });
  }

  start(uid: string, info: WorkloadInfo, netns: NetNamespace): Promise<RunningPod> {
    const o = this.#o;
    const factory = o.factory.forNamespace(netns, o.mark);
    const proxy = new PodProxy({
      ...o.proxy,
      uid,
      factory,
      placement: { kind: "netns", ipv6: supportsIpv6(factory) },
      workload: () => this.#workload(info),
      waitWorkload: (ms) => this.#waitWorkload(info, ms),
      handlers: o.handlers,
      transparent: o.transparent,
      log: o.log,
    });
    try {
      proxy.start();
    } catch (e) {
      return Promise.reject(e);
    }
    const pod: Pod = { proxy, info };
    this.#pods.set(uid, pod);
    this.#certificate(uid, pod);
    o.log.info("pod proxies up", { uid, workload: `${info.namespace}/${info.name}` });
    const running: RunningPod = {
      netnsId: netns.id,
      stop: (mode) => {
        proxy.stop(mode);
        if (mode === "immediate") o.connections.abortPod(uid, "connection closed: the pod was removed");
        this.#pods.delete(uid);
        return proxy.closed().finally(() => netns.close());
      },
      connections: () => connectionsOf(o.connections, uid),
    };
    return Promise.resolve(running);
  }

  /** Gives the pod's HBONE listener its certificate once its workload (its identity) is known. */
  #certificate(uid: string, pod: Pod): void {
    const w = this.#workload(pod.info);
    if (!w) return;
    const id = identityOf(w);
    const text = formatIdentity(id);
    if (pod.identity === text && pod.proxy.hasCertificate) return;
    pod.identity = text;
    this.#o.certs.get(id).then(
      (cert) => {
        if (this.#pods.get(uid) === pod && pod.identity === text) pod.proxy.updateCertificate(cert);
      },
      (e) => this.#o.log.warn("no certificate for pod yet", { uid, identity: text, error: errorMessage(e) }),
    );
  }

  /** The state changed: pods whose workload appeared (or whose identity changed) get their certificate. */
  reconcile(): void {
    for (const [uid, pod] of this.#pods) this.#certificate(uid, pod);
  }

  /** A certificate rotated: the pods with that identity use it for new handshakes. */
  updateCertificate(cert: WorkloadCertificate): void {
    const id = formatIdentity(cert.identity);
    for (const pod of this.#pods.values()) if (pod.identity === id) pod.proxy.updateCertificate(cert);
  }
}

/**
 * Whether the pod's namespace takes IPv6 sockets (then listeners bind `[::]`, dual-stack, as ztunnel's
 * with IPV6_ENABLED; else `0.0.0.0`).
 */
function supportsIpv6(factory: SocketFactory): boolean {
  try {
    factory.listenTcp({ ip: "::", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

/** config_dump's workloadState connections, in ztunnel's shape. */
function connectionsOf(cm: ConnectionManager, uid: string): { inbound: unknown[]; outbound: unknown[] } {
  const inbound: unknown[] = [];
  const outbound: unknown[] = [];
  for (const c of cm.ofPod(uid)) {
    const entry = {
      src: c.src,
      originalDst: c.hboneAddr ?? c.dst,
      actualDst: c.dst,
      protocol: c.hboneAddr ? "HBONE" : "TCP",
    };
    (c.direction === "inbound" ? inbound : outbound).push(entry);
  }
  return { inbound, outbound };
}
