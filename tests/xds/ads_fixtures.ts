/** Shared pieces of the ADS client tests: real handlers built on the conversions, a client factory. */
import { errorMessage } from "../../lib/error.ts";
import { Logger, LogSink, parseLogFilter } from "../../lib/log/logger.ts";
import type { Authorization } from "../../lib/policy/model.ts";
import {
  AUTHORIZATION_TYPE_URL,
  authorizationFromXdsBytes,
} from "../../lib/policy/authorization_from_xds.ts";
import {
  ADDRESS_TYPE_URL,
  addressFromXdsBytes,
  type AddressUpdate,
} from "../../lib/state/workload_from_xds.ts";
import { AdsClient, type AdsClientOptions, type XdsHandler } from "../../lib/xds/ads_client.ts";
import type { AuthSource } from "../../lib/xds/auth_source.ts";
import { GrpcChannel } from "../../lib/xds/grpc_channel.ts";
import type { FakeIstiod } from "../fakes/fake_istiod.ts";

/** A handler that converts each resource and keeps it in `store`, rejecting what fails to convert. */
export function storeHandler<T>(
  typeUrl: string,
  convert: (b: Uint8Array) => T,
  store: Map<string, T>,
): XdsHandler {
  return {
    typeUrl,
    apply(resources, removed) {
      const rejects = new Map<string, string>();
      for (const r of resources) {
        try {
          store.set(r.name, convert(r.body));
        } catch (e) {
          rejects.set(r.name, errorMessage(e));
        }
      }
      for (const name of removed) store.delete(name);
      return rejects;
    },
  };
}

export interface Harness {
  client: AdsClient;
  channel: GrpcChannel;
  addresses: Map<string, AddressUpdate>;
  policies: Map<string, Authorization>;
  acked: string[];
  logs: string[];
  close(): Promise<void>;
}

/** Collects log lines (tests can assert on them); "debug" for xds. */
export function captureLogger(lines: string[]): Logger {
  return new Logger(new LogSink(parseLogFilter("off,xds=debug"), "plain", (l) => lines.push(l)), "xds");
}

export function startClient(
  f: FakeIstiod,
  opts: {
    auth?: AuthSource;
    headers?: ReadonlyMap<string, string>;
    node?: AdsClientOptions["node"];
    extra?: Partial<AdsClientOptions>;
    address?: string;
  } = {},
): Harness {
  const addresses = new Map<string, AddressUpdate>();
  const policies = new Map<string, Authorization>();
  const acked: string[] = [];
  const logs: string[] = [];
  const channel = new GrpcChannel({
    address: opts.address ?? f.address,
    rootCa: { kind: "pem", pem: f.caPem },
    auth: opts.auth ?? { kind: "static", token: "token", clusterId: "Kubernetes" },
    headers: opts.headers,
  });
  const client = new AdsClient({
    channel,
    node: opts.node ?? { id: "ztunnel~1.1.1.1~zt.ns~ns.svc.cluster.local", metadata: {} },
    handlers: [
      storeHandler(ADDRESS_TYPE_URL, addressFromXdsBytes, addresses),
      storeHandler(AUTHORIZATION_TYPE_URL, authorizationFromXdsBytes, policies),
    ],
    log: captureLogger(logs),
    onAcked: (t) => acked.push(t),
    ...opts.extra,
  });
  client.start();
  return {
    client,
    channel,
    addresses,
    policies,
    acked,
    logs,
    async close() {
      await client.close();
      channel.close();
    },
  };
}

/** Polls `cond` every 5 ms until true; throws after `timeoutMs`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
