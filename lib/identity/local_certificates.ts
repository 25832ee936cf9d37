/**
 * The certificates a node's local mesh pods need: fetched ahead for every local HBONE workload's
 * identity, forgotten when its last pod leaves, and awaited before the node says it is ready.
 */
import type { ProxyState } from "../state/proxy_state.ts";
import type { CertManager } from "./cert_manager.ts";

type IdentityKey = { trustDomain: string; namespace: string; serviceAccount: string };

export class LocalCertificates {
  readonly #state: ProxyState;
  readonly #certs: CertManager;
  readonly #node: string;

  constructor(state: ProxyState, certs: CertManager, node: string) {
    this.#state = state;
    this.#certs = certs;
    this.#node = node;
  }

  /** Tracks exactly the identities of the node's local mesh pods. */
  track(): void {
    const ids = new Map<string, IdentityKey>();
    for (const id of this.#identities()) {
      ids.set(`${id.trustDomain}/${id.namespace}/${id.serviceAccount}`, id);
    }
    this.#certs.track([...ids.values()]);
  }

  /**
   * Waits until every local mesh pod's certificate is Available. A failed fetch does not end the wait
   * (the cert manager retries with backoff; the node stays not ready meanwhile). False when aborted.
   */
  async waitAvailable(signal: AbortSignal): Promise<boolean> {
    this.track();
    const missing = () => this.#identities().some((id) => this.#certs.state(id) !== "Available");
    if (!missing()) return true;
    await new Promise<void>((resolve) => {
      const check = () => {
        if (!signal.aborted && missing()) return;
        offCerts();
        offState();
        signal.removeEventListener("abort", check);
        resolve();
      };
      const offCerts = this.#certs.onChange(check);
      const offState = this.#state.onChange(check);
      signal.addEventListener("abort", check);
      check();
    });
    return !signal.aborted;
  }

  #identities(): IdentityKey[] {
    return this.#state.localWorkloads(this.#node)
      .filter((w) => w.protocol === "HBONE")
      .map((w) => ({ trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount }));
  }
}
