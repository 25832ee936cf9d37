/**
 * ztunnel's local config format (`LOCAL_XDS_PATH`): multi-document YAML with `workloads`, `services`,
 * `policies` and zt's `namespaces`, in config_dump's camelCase names, unknown fields rejected; string
 * matches as config_dump's `{Exact: …}` maps or as ztunnel's serde_yaml tags (`!Exact …`, yaml_tags.ts).
 * Kubernetes `security.istio.io/*` objects may sit in the same stream; they are passed on untouched.
 * Errors are `ZtError("config", "<source>[ (document N)]: <field path>: <problem>")`.
 */
import YAML from "yaml";
import { ZtError } from "../error.ts";
import type { Authorization } from "../policy/model.ts";
import { parsePolicy } from "../policy/dump.ts";
import {
  configError,
  expectFields,
  expectList,
  expectString,
  expectStringMap,
  required,
} from "./config_fields.ts";
import { parseLocalService } from "./local_service.ts";
import { parseLocalWorkload } from "./local_workload.ts";
import { untagStringMatches } from "./yaml_tags.ts";
import { addressKey, type Service, serviceKey, type Workload } from "./types.ts";

export interface NamespaceInfo {
  readonly name: string;
  readonly labels: Record<string, string>;
}

export interface LocalConfig {
  readonly workloads: Workload[];
  readonly services: Service[];
  readonly policies: Authorization[];
  /** `security.istio.io/*` Kubernetes objects, as parsed from YAML. */
  readonly istioDocuments: unknown[];
  /** zt extension: namespace labels (e.g. `istio.io/dataplane-mode: ambient`). */
  readonly namespaces: NamespaceInfo[];
}

/** One YAML text and the name errors call it by. */
export interface ConfigText {
  readonly source: string;
  readonly text: string;
}

const SECTIONS = ["workloads", "services", "policies", "namespaces"] as const;

interface Located<T> {
  readonly value: T;
  readonly at: string;
}

interface Collected {
  workloads: Located<Workload>[];
  services: Located<Service>[];
  policies: Located<Authorization>[];
  namespaces: Located<NamespaceInfo>[];
  istioDocuments: unknown[];
}

function parseNamespace(raw: unknown, at: string): NamespaceInfo {
  const o = expectFields(raw, at, ["name", "labels"]);
  const name = expectString(required(o, "name", at), `${at}.name`);
  return { name, labels: o.labels === undefined ? {} : expectStringMap(o.labels, `${at}.labels`) };
}

function policyAt(raw: unknown, at: string): Authorization {
  try {
    return parsePolicy(raw, at);
  } catch (e) {
    if (e instanceof ZtError && e.kind === "config") throw e;
    throw configError(at, e instanceof Error ? e.message : String(e));
  }
}

function section<T>(
  doc: Record<string, unknown>,
  key: string,
  where: string,
  parse: (raw: unknown, at: string) => T,
) {
  const v = doc[key];
  if (v === undefined || v === null) return [];
  return expectList(v, `${where}: ${key}`).map((raw, i): Located<T> => {
    const at = `${where}: ${key}[${i}]`;
    return { value: parse(raw, at), at };
  });
}

function collectDocument(value: unknown, where: string, into: Collected): void {
  if (value === null || value === undefined) return;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ZtError("config", `${where}: expected a mapping at the top of the document`);
  }
  const doc = value as Record<string, unknown>;
  if (Object.keys(doc).length === 0) return;
  if (doc.apiVersion !== undefined || doc.kind !== undefined) {
    const apiVersion = typeof doc.apiVersion === "string" ? doc.apiVersion : "";
    const kind = typeof doc.kind === "string" ? doc.kind : "";
    const meta = doc.metadata as { name?: unknown; namespace?: unknown } | undefined;
    const name = typeof meta?.name === "string"
      ? ` "${meta.namespace ? `${meta.namespace}/` : ""}${meta.name}"`
      : "";
    if (!apiVersion || !kind) {
      throw new ZtError("config", `${where}: a Kubernetes object needs both "apiVersion" and "kind"`);
    }
    if (!apiVersion.startsWith("security.istio.io/")) {
      throw new ZtError(
        "config",
        `${where}: unsupported Kubernetes object ${apiVersion} ${kind}${name} (only security.istio.io resources are accepted)`,
      );
    }
    into.istioDocuments.push(doc);
    return;
  }
  const unknown = Object.keys(doc).find((k) => !(SECTIONS as readonly string[]).includes(k));
  if (unknown !== undefined) {
    throw new ZtError(
      "config",
      `${where}: unknown field "${unknown}" (expected ${
        SECTIONS.join(", ")
      }, or a Kubernetes object with apiVersion and kind)`,
    );
  }
  into.workloads.push(...section(doc, "workloads", where, parseLocalWorkload));
  into.services.push(...section(doc, "services", where, parseLocalService));
  into.policies.push(...section(doc, "policies", where, policyAt));
  into.namespaces.push(...section(doc, "namespaces", where, parseNamespace));
}

function collectText(t: ConfigText, into: Collected): void {
  const lines = new YAML.LineCounter();
  const docs = YAML.parseAllDocuments(t.text, { lineCounter: lines });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const where = list.length > 1 ? `${t.source} (document ${i + 1})` : t.source;
    const err = doc.errors[0];
    if (err) throw new ZtError("config", `${where}: invalid YAML: ${err.message}`);
    untagStringMatches(doc, where, lines);
    let value: unknown;
    try {
      value = doc.toJS(); // throws on YAML it parsed without errors, e.g. an alias to no anchor
    } catch (e) {
      throw new ZtError("config", `${where}: invalid YAML: ${e instanceof Error ? e.message : e}`);
    }
    collectDocument(value, where, into);
  });
}

function checkUnique<T>(items: Located<T>[], key: (v: T) => string[], what: string): void {
  const seen = new Map<string, string>();
  for (const item of items) {
    for (const k of key(item.value)) {
      const prev = seen.get(k);
      if (prev !== undefined) {
        throw new ZtError("config", `${item.at}: duplicate ${what} "${k}" (also at ${prev})`);
      }
      seen.set(k, item.at);
    }
  }
}

/** Parses several texts as one configuration (a directory's files, in order). */
export function parseConfigTexts(texts: readonly ConfigText[]): LocalConfig {
  const c: Collected = { workloads: [], services: [], policies: [], namespaces: [], istioDocuments: [] };
  for (const t of texts) collectText(t, c);
  checkUnique(c.workloads, (w) => [w.uid], "workload uid");
  checkUnique(
    c.workloads,
    (w) =>
      w.networkMode === "HostNetwork"
        ? []
        : w.workloadIps.map((ip) => addressKey({ network: w.network, address: ip })),
    "workload address",
  );
  checkUnique(c.services, (s) => [serviceKey(s)], "service");
  checkUnique(c.policies, (p) => [`${p.namespace}/${p.name}`], "policy");
  checkUnique(c.namespaces, (n) => [n.name], "namespace");
  return {
    workloads: c.workloads.map((x) => x.value),
    services: c.services.map((x) => x.value),
    policies: c.policies.map((x) => x.value),
    istioDocuments: c.istioDocuments,
    namespaces: c.namespaces.map((x) => x.value),
  };
}

export function parseLocalConfig(text: string, source = "<inline>"): LocalConfig {
  return parseConfigTexts([{ source, text }]);
}

/** The texts behind `path`: the file, or every `*.yaml`/`*.yml` of the directory sorted by name. */
export async function readConfigTexts(path: string): Promise<ConfigText[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new ZtError("config", `${path}: cannot read local config: ${e instanceof Error ? e.message : e}`, {
      cause: e,
    });
  }
  if (!info.isDirectory) return [{ source: path, text: await Deno.readTextFile(path) }];
  const names: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    if (entry.name.startsWith(".") || !/\.ya?ml$/.test(entry.name)) continue;
    const full = `${path.replace(/\/+$/, "")}/${entry.name}`;
    if (entry.isFile || (entry.isSymlink && (await Deno.stat(full)).isFile)) names.push(entry.name);
  }
  names.sort();
  const base = path.replace(/\/+$/, "");
  return await Promise.all(
    names.map(async (n) => ({ source: `${base}/${n}`, text: await Deno.readTextFile(`${base}/${n}`) })),
  );
}

export async function loadLocalConfig(path: string): Promise<LocalConfig> {
  return parseConfigTexts(await readConfigTexts(path));
}
