/**
 * The local pods' proxies when zt runs them on the pods' own IPs in its netns (standalone loopback
 * mode, node-level TPROXY capture): one PodProxy per local mesh pod of the state, kept in step with it
 * (pods added, removed, moved, certificates rotated). In-pod mode starts PodProxies from istio-cni's
 * ZDS messages instead (lib/inpod/).
 */
import type { Logger } from "../log/logger.ts";
import type { ProxyState } from "../state/proxy_state.ts";
import type { Workload } from "../state/types.ts";
import type { WorkloadCertificate } from "../identity/certificate.ts";
import { formatIdentity, type Identity } from "../identity/spiffe.ts";
import type { SocketFactory } from "../net/socket_factory.ts";
import { errorMessage } from "../error.ts";
import { type PodHandlers, PodProxy, type PodProxyOptions } from "./pod_proxy.ts";

export interface PodProxiesOptions {
  readonly node: string;
  readonly state: ProxyState;
  readonly certs: { get(id: Identity): Promise<WorkloadCertificate> };
  /** zt's own socket factory: the pods' listeners bind their IPs in zt's netns. */
  readonly factory: SocketFactory;
  readonly handlers: PodHandlers;
  /** Node-level TPROXY: each pod's HBONE listener is transparent (the capture rules deliver to it). */
  readonly transparentHbone: boolean;
  readonly proxy: Pick<PodProxyOptions, "h2" | "tls" | "socks5" | "onRejected" | "onAcceptError">;
  readonly log: Logger;
}

interface Running {
  readonly proxy: PodProxy;
  readonly ip: string;
  readonly identity: string;
}

/** A pod is served here when it runs on this node and speaks HBONE. */
export function isLocalMeshPod(w: Workload, node: string): boolean {
  return w.node === node && w.protocol === "HBONE" && w.workloadIps.length > 0;
}

export function identityOf(w: Workload): Identity {
  return { trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount };
}

export class PodProxies {
  #pods = new Map<string, Running>();
  #reconciling: Promise<void> = Promise.resolve();
  #draining = false;

  constructor(readonly opts: PodProxiesOptions) {}

  /** Pods currently served, by uid. */
  get pods(): ReadonlyMap<string, { ip: string; identity: string; proxy: PodProxy }> {
    return this.#pods;
  }

  /** Brings the pods' proxies in line with the state; serialised so overlapping calls don't race. */
  reconcile(): Promise<void> {
    this.#reconciling = this.#reconciling.then(() => this.#reconcile()).catch((e) =>
      this.opts.log.error("pod listeners reconcile failed", { error: errorMessage(e) })
    );
    return this.#reconciling;
  }

  async #reconcile(): Promise<void> {
    if (this.#draining) return;
    const o = this.opts;
    const wanted = new Map<string, Workload>();
    for (const w of o.state.localWorkloads(o.node)) if (isLocalMeshPod(w, o.node)) wanted.set(w.uid, w);
    for (const [uid, p] of [...this.#pods]) {
      const w = wanted.get(uid);
      if (!w || w.workloadIps[0] !== p.ip || formatIdentity(identityOf(w)) !== p.identity) {
        p.proxy.stop("immediate");
        this.#pods.delete(uid);
      }
    }
    const starts = [...wanted.values()].filter((w) => !this.#pods.has(w.uid)).map((w) => this.#start(w));
    const results = await Promise.allSettled(starts);
    for (const r of results) {
      if (r.status === "rejected") o.log.error("pod listeners failed", { error: errorMessage(r.reason) });
    }
  }

  async #start(w: Workload): Promise<void> {
    const o = this.opts;
    const ip = w.workloadIps[0];
    const cert = await o.certs.get(identityOf(w));
    if (this.#draining || this.#pods.has(w.uid)) return;
    const proxy = new PodProxy({
      ...o.proxy,
      uid: w.uid,
      factory: o.factory,
      placement: { kind: "ip", ip, transparentHbone: o.transparentHbone },
      workload: () => o.state.workload(w.uid),
      waitWorkload: () => Promise.resolve(o.state.workload(w.uid)),
      handlers: o.handlers,
      transparent: "off",
      log: o.log,
    });
    proxy.start(cert);
    this.#pods.set(w.uid, { proxy, ip, identity: formatIdentity(identityOf(w)) });
    o.log.info("pod listeners up", {
      uid: w.uid,
      hbone: `${ip}:${proxy.hboneAddress?.port}`,
      socks5: proxy.socks5Address ? `${ip}:${proxy.socks5Address.port}` : "off",
    });
  }

  /** A certificate rotated: new handshakes of the pods with that identity use it. */
  updateCertificate(cert: WorkloadCertificate): void {
    const id = formatIdentity(cert.identity);
    for (const p of this.#pods.values()) if (p.identity === id) p.proxy.updateCertificate(cert);
  }

  /** Drain: stop accepting, GOAWAY every HBONE session; live streams finish on their own. */
  async drain(): Promise<void> {
    this.#draining = true;
    await this.#reconciling;
    for (const p of this.#pods.values()) p.proxy.stop("graceful");
  }

  close(): void {
    this.#draining = true;
    for (const p of this.#pods.values()) p.proxy.stop("immediate");
    this.#pods.clear();
  }
}
