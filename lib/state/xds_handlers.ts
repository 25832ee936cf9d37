/**
 * The xDS handlers that write istiod's pushes into the ProxyState, as ztunnel's ProxyStateUpdater
 * does (`src/state.rs`, `src/xds.rs`):
 *
 * - `istio.workload.Address`: each resource is a Workload (keyed by uid) or a Service (keyed by
 *   `ns/hostname`); a removal is tried as a workload uid, then as a service `ns/hostname`.
 *   Workloads that arrive before their Service are staged by the state (their endpoints wait).
 * - `istio.security.Authorization`: keyed by `ns/name`; removals by that name. Policies bind to
 *   workloads through the workloads' own `authorizationPolicies` as istiod sends them (no label
 *   selection in xDS mode).
 *
 * A resource that fails to decode or convert is rejected with its reason (the NACK) and leaves the
 * state as it was; the good resources of the same push are applied. One push is one state batch,
 * so listeners hear one change per kind, not one per resource.
 */
import { errorMessage, ZtError } from "../error.ts";
import type { Logger } from "../log/logger.ts";
import { AUTHORIZATION_TYPE_URL, authorizationFromXdsBytes } from "../policy/authorization_from_xds.ts";
import type { XdsHandler, XdsResourceUpdate } from "../xds/ads_client.ts";
import type { ProxyState } from "./proxy_state.ts";
import { ADDRESS_TYPE_URL, addressFromXdsBytes } from "./workload_from_xds.ts";

/** What one push did, for logs and tests. */
export interface PushOutcome {
  readonly upserted: number;
  readonly removed: number;
  /** Removals of names the state did not hold (not an error: istiod may repeat them). */
  readonly unknownRemovals: number;
  readonly rejected: number;
}

export interface XdsStateHandlerOptions {
  readonly state: ProxyState;
  readonly log: Logger;
  /** Called after each push is applied (tests, metrics). */
  readonly onPush?: (typeUrl: string, outcome: PushOutcome) => void;
}

type Upsert = (r: XdsResourceUpdate) => void;
type Remove = (name: string) => boolean;

function stateHandler(
  typeUrl: string,
  opts: XdsStateHandlerOptions,
  upsert: Upsert,
  remove: Remove,
): XdsHandler {
  const { state, log } = opts;
  return {
    typeUrl,
    apply(resources, removed) {
      const rejects = new Map<string, string>();
      let upserted = 0, gone = 0, unknown = 0;
      state.batch(() => {
        // Removals first, then upserts: a name in both ends up present, as the ADS client records it.
        for (const name of removed) {
          if (remove(name)) gone++;
          else unknown++;
        }
        for (const r of resources) {
          try {
            upsert(r);
            upserted++;
          } catch (e) {
            rejects.set(r.name, errorMessage(e));
          }
        }
      });
      const outcome = { upserted, removed: gone, unknownRemovals: unknown, rejected: rejects.size };
      log.debug("xds push applied", { type_url: typeUrl, ...outcome });
      for (const [name, reason] of rejects) {
        log.warn("xds resource rejected", { type_url: typeUrl, name, reason });
      }
      opts.onPush?.(typeUrl, outcome);
      return rejects;
    },
  };
}

/** The handler for `type.googleapis.com/istio.workload.Address` (workloads and services). */
export function addressHandler(opts: XdsStateHandlerOptions): XdsHandler {
  const { state } = opts;
  return stateHandler(
    ADDRESS_TYPE_URL,
    opts,
    (r) => {
      const u = addressFromXdsBytes(r.body);
      if (u.kind === "workload") {
        if (!u.workload.uid) throw new ZtError("xds", "workload: uid is empty");
        state.upsertWorkload(u.workload);
      } else {
        if (!u.service.hostname) throw new ZtError("xds", "service: hostname is empty");
        state.upsertService(u.service);
      }
    },
    (name) => state.removeWorkload(name) || state.removeService(name),
  );
}

/** The handler for `type.googleapis.com/istio.security.Authorization`. */
export function authorizationHandler(opts: XdsStateHandlerOptions): XdsHandler {
  const { state } = opts;
  return stateHandler(
    AUTHORIZATION_TYPE_URL,
    opts,
    (r) => state.upsertPolicy(authorizationFromXdsBytes(r.body)),
    (name) => state.removePolicy(name),
  );
}

/** Both handlers, in the order ztunnel subscribes (Address, then Authorization). */
export function xdsStateHandlers(opts: XdsStateHandlerOptions): XdsHandler[] {
  return [addressHandler(opts), authorizationHandler(opts)];
}
