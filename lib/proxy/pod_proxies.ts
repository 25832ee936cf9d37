/**
 * The listeners of this node's local pods, as ztunnel's in-pod mode has them: HBONE on
 * <podIP>:15008 with the pod's certificate and SOCKS5 on <podIP>:15080, kept in step with the
 * state (pods added, removed, certificates rotated).
 */
import type { Logger } from "../log/logger.ts";
import type { ProxyState } from "../state/proxy_state.ts";
import type { Workload } from "../state/types.ts";
import type { WorkloadCertificate } from "../identity/certificate.ts";
import { formatIdentity, type Identity } from "../identity/spiffe.ts";
import { HboneServer, type InboundTunnel } from "../tunnel/hbone_server.ts";
import type { H2Options } from "../tunnel/h2/session.ts";
import type { TlsBackend } from "../tunnel/secure_channel.ts";
import { errorMessage } from "../error.ts";
import { Socks5Server } from "./socks5_server.ts";
import type { OutboundProxy } from "./outbound.ts";

export const HBONE_PORT = 15008;
export const SOCKS5_PORT = 15080;

export interface PodProxiesOptions {
  readonly node: string;
  readonly state: ProxyState;
  readonly certs: { get(id: Identity): Promise<WorkloadCertificate> };
  readonly h2: H2Options;
  readonly outbound: OutboundProxy;
  readonly onTunnel: (t: InboundTunnel) => void;
  readonly socks5: boolean;
  readonly clusterDomain: string;
  readonly hbonePort?: number;
  readonly socks5Port?: number;
  readonly log: Logger;
  /** Bad input refused on a pod listener (counted and logged by the caller). */
  readonly onRejected?: (listener: "hbone" | "socks5", kind: string, reason: string) => void;
  /** The TLS under the pods' HBONE listeners. */
  readonly tls?: TlsBackend;
  /** Called once a pod's HBONE listener is bound (capture makes it transparent); a throw stops the pod. */
  readonly onListen?: (addr: { ip: string; port: number }) => void;
  /** Starts the pod's DNS proxy on 15053 (lib/dns/dns_proxies.ts), bound at once; a throw stops the pod. */
  readonly startDns?: (w: Workload, ip: string) => { close(): void };
}

interface PodListeners {
  readonly uid: string;
  readonly ip: string;
  readonly identity: string;
  readonly serial: string;
  readonly hbone: HboneServer;
  readonly socks?: Socks5Server;
  readonly dns?: { close(): void };
}

/** A pod is served here when it runs on this node and speaks HBONE. */
export function isLocalMeshPod(w: Workload, node: string): boolean {
  return w.node === node && w.protocol === "HBONE" && w.workloadIps.length > 0;
}

function identityOf(w: Workload): Identity {
  return { trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount };
}

export class PodProxies {
  #pods = new Map<string, PodListeners>();
  #reconciling: Promise<void> = Promise.resolve();
  #draining = false;

  constructor(readonly opts: PodProxiesOptions) {}

  /** Pods currently served, by uid. */
  get pods(): ReadonlyMap<string, { ip: string; identity: string }> {
    return this.#pods;
  }

  /** Brings listeners in line with the state; serialised so overlapping calls don't race. */
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
        this.#stop(p, false);
        this.#pods.delete(uid);
      }
    }
    await Promise.all([...wanted.values()].filter((w) => !this.#pods.has(w.uid)).map((w) => this.#start(w)));
  }

  async #start(w: Workload): Promise<void> {
    const o = this.opts;
    const ip = w.workloadIps[0];
    const cert = await o.certs.get(identityOf(w));
    if (this.#draining || this.#pods.has(w.uid)) return;
    const hbone = new HboneServer({
      ip,
      port: o.hbonePort ?? HBONE_PORT,
      cert,
      h2: o.h2,
      log: o.log,
      onTunnel: o.onTunnel,
      onRejected: (kind, reason) => o.onRejected?.("hbone", kind, reason),
      tls: o.tls,
    });
    const dns = o.startDns?.(w, ip);
    try {
      await hbone.listen();
    } catch (e) {
      dns?.close();
      throw e;
    }
    try {
      o.onListen?.(hbone.address);
    } catch (e) {
      hbone.close();
      dns?.close();
      throw e;
    }
    let socks: Socks5Server | undefined;
    if (o.socks5) {
      socks = new Socks5Server({
        ip,
        port: o.socks5Port ?? SOCKS5_PORT,
        sourceUid: w.uid,
        state: o.state,
        outbound: o.outbound,
        clusterDomain: o.clusterDomain,
        log: o.log,
        onRejected: (reason) => o.onRejected?.("socks5", "handshake", reason),
      });
      try {
        socks.listen();
      } catch (e) {
        hbone.close();
        dns?.close();
        throw e;
      }
    }
    const identity = formatIdentity(identityOf(w));
    this.#pods.set(w.uid, { uid: w.uid, ip, identity, serial: cert.serialNumber, hbone, socks, dns });
    o.log.info("pod listeners up", {
      uid: w.uid,
      hbone: `${ip}:${hbone.address.port}`,
      socks5: socks ? `${ip}:${socks.address?.port}` : "off",
    });
  }

  /** A certificate rotated: new handshakes of the pods with that identity use it. */
  updateCertificate(cert: WorkloadCertificate): void {
    const id = formatIdentity(cert.identity);
    for (const p of this.#pods.values()) if (p.identity === id) p.hbone.updateCertificate(cert);
  }

  #stop(p: PodListeners, graceful: boolean): void {
    p.socks?.close();
    p.dns?.close();
    if (graceful) p.hbone.drain();
    else p.hbone.close();
  }

  /** Drain: stop accepting, GOAWAY every HBONE session; live streams finish on their own. */
  async drain(): Promise<void> {
    this.#draining = true;
    await this.#reconciling;
    for (const p of this.#pods.values()) this.#stop(p, true);
  }

  close(): void {
    this.#draining = true;
    for (const p of this.#pods.values()) this.#stop(p, false);
    this.#pods.clear();
  }
}
