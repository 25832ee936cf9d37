import assert from "node:assert/strict";
import type { StringMatch } from "../../lib/policy/model.ts";
import {
  formatStringMatch,
  matchPrincipal,
  matchString,
  stringMatchFromIstio,
} from "../../lib/policy/string_match.ts";

Deno.test("stringMatchFromIstio converts like istiod's stringToMatch", () => {
  const cases: [string, StringMatch][] = [
    ["*", { kind: "presence" }],
    ["foo*", { kind: "prefix", value: "foo" }],
    ["*foo", { kind: "suffix", value: "foo" }],
    ["*foo*", { kind: "suffix", value: "foo*" }], // a leading * wins
    ["foo", { kind: "exact", value: "foo" }],
    ["cluster.local/ns/a/sa/b", { kind: "exact", value: "cluster.local/ns/a/sa/b" }],
    ["f*o", { kind: "exact", value: "f*o" }],
    ["", { kind: "exact", value: "" }],
  ];
  for (const [text, want] of cases) {
    assert.deepEqual(stringMatchFromIstio(text), want, text);
    if (text !== "*foo*" && text !== "f*o") assert.equal(formatStringMatch(want), text);
  }
});

Deno.test("matchString follows ztunnel's string_match table", () => {
  const cases: [StringMatch, string, boolean][] = [
    [{ kind: "exact", value: "foo" }, "foo", true],
    [{ kind: "exact", value: "foo" }, "not", false],
    [{ kind: "exact", value: "foo" }, "", false],
    [{ kind: "prefix", value: "foo" }, "foobar", true],
    [{ kind: "prefix", value: "foo" }, "notfoo", false],
    [{ kind: "prefix", value: "foo" }, "", false],
    [{ kind: "suffix", value: "foo" }, "barfoo", true],
    [{ kind: "suffix", value: "foo" }, "foonot", false],
    [{ kind: "suffix", value: "foo" }, "", false],
    [{ kind: "presence" }, "foo", true],
    [{ kind: "presence" }, "", false],
    [{ kind: "exact", value: "" }, "", true],
  ];
  for (const [m, v, want] of cases) assert.equal(matchString(m, v), want, `${JSON.stringify(m)} ~ ${v}`);
});

Deno.test("matchPrincipal: no identity matches nothing, not even presence", () => {
  assert.equal(matchPrincipal({ kind: "presence" }, undefined), false);
  assert.equal(matchPrincipal({ kind: "prefix", value: "" }, undefined), false);
  assert.equal(matchPrincipal({ kind: "presence" }, "td/ns/a/sa/b"), true);
  assert.equal(matchPrincipal({ kind: "suffix", value: "/sa/b" }, "td/ns/a/sa/b"), true);
});
