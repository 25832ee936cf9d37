/**
 * deploy/ztunnel-daemonset.yaml against zt itself: the environment Istio's ztunnel chart sets is
 * there, zt's config loader accepts it and derives what ztunnel derives (drain deadline from the
 * grace period, JSON logs, istiod addresses), the probe hits zt's readiness endpoint, and the
 * secrets the chart mounts are inside permissions.txt's --allow-read.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config/config.ts";
import { ztPermissions } from "../fakes/permissions.ts";
import { parseLogFilter } from "../../lib/log/logger.ts";
import { COMMANDS } from "../../main.ts";
import { daemonSet, type Doc, resolveEnv } from "./daemonset_fixture.ts";

Deno.test("daemonset: the environment of Istio's ztunnel chart, accepted by zt's config", async () => {
  const ds = await daemonSet();
  const spec = ds.spec.template.spec;
  const [c] = spec.containers;
  const env = resolveEnv(c.env);
  for (
    const name of [
      "CA_ADDRESS",
      "XDS_ADDRESS",
      "LOG_FORMAT",
      "NETWORK",
      "RUST_LOG",
      "ISTIO_META_CLUSTER_ID",
      "TERMINATION_GRACE_PERIOD_SECONDS",
      "POD_NAME",
      "POD_NAMESPACE",
      "NODE_NAME",
      "INSTANCE_IP",
      "SERVICE_ACCOUNT",
      "INPOD_ENABLED",
      "ZTUNNEL_CPU_LIMIT",
    ]
  ) assert.ok(name in env, `${name} is set`);
  assert.equal(env.TERMINATION_GRACE_PERIOD_SECONDS, String(spec.terminationGracePeriodSeconds));

  const cfg = loadConfig(env, {}, "unused-hostname");
  assert.equal(cfg.nodeName, "node-1");
  assert.equal(cfg.instanceIp, "10.244.1.7");
  assert.equal(cfg.podName, "ztunnel-x7k2p");
  assert.equal(cfg.podNamespace, "istio-system");
  assert.equal(cfg.serviceAccount, "ztunnel");
  assert.equal(cfg.clusterId, "Kubernetes");
  assert.equal(cfg.logFormat, "json");
  assert.equal(cfg.xdsAddress, "https://istiod.istio-system.svc:15012");
  assert.equal(cfg.caAddress, "https://istiod.istio-system.svc:15012");
  assert.equal(cfg.connectionTerminationDeadlineMs, 25_000, "grace 30 s → drain deadline 25 s, as ztunnel");
  assert.equal(cfg.inpodEnabled, true);
  assert.equal(cfg.proxyMode, "shared");
  assert.equal(
    parseLogFilter(cfg.logFilter).ignored,
    undefined,
    "the chart's RUST_LOG means something to zt",
  );
  assert.deepEqual(cfg.readinessAddr, { hostname: "::", port: 15021 }, "the kubelet probes the pod IP");
  assert.deepEqual(
    cfg.adminAddr,
    { hostname: "localhost", port: 15000 },
    "istioctl port-forwards to localhost",
  );
});

Deno.test("daemonset: probe, token, mounts and security context match the chart and zt", async () => {
  const ds = await daemonSet();
  const spec = ds.spec.template.spec;
  const [c] = spec.containers;
  assert.equal(spec.hostNetwork, false);
  assert.deepEqual(c.readinessProbe.httpGet, { port: 15021, path: "/healthz/ready" });
  const token =
    spec.volumes.find((v: Doc) => v.name === "istio-token").projected.sources[0].serviceAccountToken;
  assert.deepEqual(token, { path: "istio-token", expirationSeconds: 43200, audience: "istio-ca" });
  assert.deepEqual(c.securityContext.capabilities, {
    drop: ["ALL"],
    add: ["NET_ADMIN", "SYS_ADMIN", "NET_RAW"],
  });
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);

  // zt reads the mounted token and root certificate at ztunnel's default paths: permitted?
  const read = ztPermissions().find((f) => f.startsWith("--allow-read="))!.slice("--allow-read=".length)
    .split(",");
  const mounts = c.volumeMounts.map((m: Doc) => m.mountPath) as string[];
  for (const path of ["/var/run/secrets/tokens/istio-token", "/var/run/secrets/istio/root-cert.pem"]) {
    assert.ok(mounts.some((m) => path.startsWith(`${m}/`)), `${path} is mounted`);
    assert.ok(read.some((r) => path.startsWith(`${r}/`)), `${path} is inside --allow-read`);
  }
});

Deno.test("daemonset: the chart's in-pod shape: args, ZDS socket mount, ports, privileges", async () => {
  const ds = await daemonSet();
  const spec = ds.spec.template.spec;
  const [c] = spec.containers;
  assert.equal(c.name, "istio-proxy");
  assert.deepEqual(c.args, ["proxy", "ztunnel"]);
  assert.ok(COMMANDS[c.args[0]], "zt has the chart's command");
  assert.deepEqual(c.ports, [{ containerPort: 15020, name: "ztunnel-stats", protocol: "TCP" }]);
  // istio-cni's ZDS socket: the node's /var/run/ztunnel, where zt's INPOD_UDS default lives
  const sockVolume = spec.volumes.find((v: Doc) => v.hostPath?.path === "/var/run/ztunnel");
  assert.ok(sockVolume, "a hostPath volume for /var/run/ztunnel");
  assert.equal(sockVolume.hostPath.type, "DirectoryOrCreate");
  const mount = c.volumeMounts.find((m: Doc) => m.name === sockVolume.name);
  assert.equal(mount.mountPath, "/var/run/ztunnel");
  const cfg = loadConfig(resolveEnv(c.env));
  assert.ok(cfg.inpodUds.startsWith(`${mount.mountPath}/`), cfg.inpodUds);
  // as the chart: not privileged, SYS_ADMIN (hence allowPrivilegeEscalation), root in group 1337
  const sc = c.securityContext;
  assert.equal(sc.privileged, false);
  assert.equal(sc.allowPrivilegeEscalation, true);
  assert.deepEqual([sc.runAsUser, sc.runAsGroup, sc.runAsNonRoot], [0, 1337, false]);
  assert.equal(spec.hostNetwork, false);
  assert.equal(spec.priorityClassName, "system-node-critical");
  assert.deepEqual(ds.spec.selector.matchLabels, { app: "ztunnel" });
  const labels = ds.spec.template.metadata.labels;
  assert.equal(labels["istio.io/dataplane-mode"], "none", "zt's own pod is never captured");
  assert.equal(labels["sidecar.istio.io/inject"], "false");
  assert.equal(ds.spec.template.metadata.annotations["prometheus.io/port"], "15020");
});
