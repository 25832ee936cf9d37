/**
 * ztunnel reads its local config with serde_yaml, which spells a policy's string matches as YAML tags
 * (`principals: [!Exact cluster.local/ns/a/sa/b]`, `!Prefix …`, `!Suffix …`, `!Presence []`) and
 * refuses the one-key maps of its config_dump JSON (`{Exact: …}`). zt reads both: this rewrites the
 * tagged nodes of a parsed document into those maps before it is turned into plain data. Any other
 * local tag (`!Foo x`) is refused with its line: YAML alone would read it as a plain string.
 */
import YAML, { type LineCounter } from "yaml";
import { ZtError } from "../error.ts";

const VALUE_TAGS = new Set(["!Exact", "!Prefix", "!Suffix"]);
const PRESENCE = "!Presence";

function fail(where: string, lines: LineCounter, node: YAML.Node, problem: string): never {
  const pos = node.range ? lines.linePos(node.range[0]) : undefined;
  throw new ZtError("config", `${where}${pos ? `: line ${pos.line}` : ""}: ${problem}`);
}

/** Rewrites `!Exact x` → `{Exact: "x"}` (likewise Prefix, Suffix) and `!Presence []` → `{Presence: []}`. */
export function untagStringMatches(doc: YAML.Document, where: string, lines: LineCounter): void {
  YAML.visit(doc, {
    Node(_key, node) {
      const tag = node.tag;
      // Resolved tags are URIs (`tag:yaml.org,2002:str`); `!x` is a local tag YAML could not resolve.
      if (!tag || !tag.startsWith("!")) return undefined;
      const kind = tag.slice(1);
      if (VALUE_TAGS.has(tag)) {
        if (!YAML.isScalar(node) || node.value === null || node.value === "") {
          fail(
            where,
            lines,
            node,
            `${tag} needs a string value, e.g. "${tag} cluster.local/ns/default/sa/x"`,
          );
        }
        return doc.createNode({ [kind]: String(node.value) });
      }
      if (tag === PRESENCE) {
        const empty = (YAML.isSeq(node) && node.items.length === 0) ||
          (YAML.isScalar(node) && (node.value === null || node.value === ""));
        if (!empty) fail(where, lines, node, `${tag} takes no value (write "${tag} []")`);
        return doc.createNode({ [kind]: [] });
      }
      return fail(
        where,
        lines,
        node,
        `unsupported YAML tag ${tag} (ztunnel's string-match tags are !Exact, !Prefix, !Suffix, !Presence)`,
      );
    },
  });
}
