/** deploy/ztunnel-daemonset.yaml, read as the kubelet would run it (shared by the deploy tests). */
import assert from "node:assert/strict";
import { parse } from "yaml";

const MANIFEST = new URL("../../deploy/ztunnel-daemonset.yaml", import.meta.url);

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; resourceFieldRef?: { resource: string } };
}

// deno-lint-ignore no-explicit-any
export type Doc = any;

export async function daemonSet(): Promise<Doc> {
  const docs = (await Deno.readTextFile(MANIFEST)).split(/^---$/m).map((d) => parse(d) as Doc);
  const ds = docs.find((d) => d?.kind === "DaemonSet");
  assert.ok(ds, "the manifest has a DaemonSet");
  return ds;
}

/** What the kubelet would put in the environment for a pod on node-1. */
export const DOWNWARD: Readonly<Record<string, string>> = {
  "metadata.name": "ztunnel-x7k2p",
  "metadata.namespace": "istio-system",
  "spec.nodeName": "node-1",
  "status.podIP": "10.244.1.7",
  "spec.serviceAccountName": "ztunnel",
  "limits.cpu": "2",
};

/** The container's environment with the downward API values filled in. */
export function resolveEnv(
  env: EnvVar[],
  downward: Readonly<Record<string, string>> = DOWNWARD,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const ref = e.valueFrom?.fieldRef?.fieldPath ?? e.valueFrom?.resourceFieldRef?.resource;
    out[e.name] = ref !== undefined ? downward[ref] : e.value ?? "";
  }
  return out;
}
