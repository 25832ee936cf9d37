/**
 * Access logs and traffic metrics for proxied connections, in ztunnel's shape: a DEBUG
 * `connection opened` and an INFO (or ERROR with `error=`) `connection complete` line with
 * src.* / dst.* fields, direction, byte counts and duration.
 */
import type { Logger } from "../log/logger.ts";
import type { Service, Workload } from "../state/types.ts";

export interface ConnectionRecord {
  readonly id: string;
  readonly direction: "inbound" | "outbound";
  readonly srcAddr: string;
  readonly srcWorkload?: Workload;
  /** SPIFFE URI of the source, when mTLS carried it. */
  readonly srcIdentity?: string;
  readonly dstAddr: string;
  readonly hboneAddr?: string;
  readonly dstService?: Service;
  readonly dstWorkload?: Workload;
  readonly dstIdentity?: string;
  readonly startedAt: number;
  readonly mtls: boolean;
}

export interface ConnectionResult {
  readonly sent: number;
  readonly recv: number;
  readonly error?: string;
  /** Istio response flag: `-`, `DENY`, `CONNECT`, `TLS_FAILURE`, ... */
  readonly responseFlags?: string;
}

/** What the reporter needs from the metrics module (kept structural: proxies don't import metrics). */
export interface TrafficSink {
  opened(rec: ConnectionRecord): unknown;
  closed(rec: ConnectionRecord, handle: unknown, result: ConnectionResult): void;
}

export class ConnectionReporter {
  constructor(readonly access: Logger, readonly traffic?: TrafficSink) {}

  /** Returns a token to pass to `completed`. */
  opened(rec: ConnectionRecord): unknown {
    if (this.access.enabled("debug")) this.access.debug("connection opened", fields(rec));
    return this.traffic?.opened(rec);
  }

  completed(rec: ConnectionRecord, handle: unknown, result: ConnectionResult): void {
    this.traffic?.closed(rec, handle, result);
    const level = result.error ? "error" : "info";
    if (!this.access.enabled(level)) return;
    const f = {
      ...fields(rec),
      bytes_sent: result.sent,
      bytes_recv: result.recv,
      duration: `${Math.round(performance.now() - rec.startedAt)}ms`,
      error: result.error,
    };
    if (result.error) this.access.error("connection complete", f);
    else this.access.info("connection complete", f);
  }
}

function fields(rec: ConnectionRecord) {
  return {
    // The connection's id, as ztunnel's `inbound{id=…}` / `outbound{id=…}` spans carry it; both nodes
    // log the same id for one tunnelled connection (it travels in `traceparent`).
    id: rec.id,
    "src.addr": rec.srcAddr,
    "src.workload": rec.srcWorkload?.name,
    "src.namespace": rec.srcWorkload?.namespace,
    "src.identity": rec.srcIdentity,
    "src.cluster": rec.srcWorkload?.clusterId || undefined,
    "dst.addr": rec.dstAddr,
    "dst.hbone_addr": rec.hboneAddr,
    "dst.service": rec.dstService?.hostname,
    "dst.workload": rec.dstWorkload?.name,
    "dst.namespace": rec.dstWorkload?.namespace,
    "dst.identity": rec.dstIdentity,
    "dst.cluster": rec.dstWorkload?.clusterId || undefined,
    direction: rec.direction,
  };
}
