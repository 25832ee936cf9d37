/** zt's version, and the Istio version whose ztunnel it stands in for. */
export const VERSION = "0.1.0";
export const ISTIO_VERSION = "1.28";
