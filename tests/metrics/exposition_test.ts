/** The exposition formats: escaping, special values and content types. */
import assert from "node:assert/strict";
import { parseScrape } from "../fakes/prometheus_scrape.ts";
import {
  contentTypeFor,
  escapeLabelValue,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
} from "../../lib/metrics/exposition.ts";
import { Registry } from "../../lib/metrics/registry.ts";

Deno.test("label values with backslash, quote and newline are escaped and parse back", () => {
  const r = new Registry();
  const nasty = 'C:\\dir\\"file"\nline2';
  r.counter({ name: "weird", help: "Help with \\ and\nnewline.", labelNames: ["path"] }).labels([nasty])
    .inc();
  const text = r.encode();
  assert.ok(text.includes(`weird_total{path="C:\\\\dir\\\\\\"file\\"\\nline2"} 1`), text);
  assert.ok(text.includes("# HELP weird_total Help with \\\\ and\\nnewline."));
  const [fam] = parseScrape(text).families;
  assert.equal(fam.metrics[0].labels?.path, nasty);
  assert.equal(fam.help, "Help with \\ and\nnewline.");
  assert.equal(escapeLabelValue("plain"), "plain");
});

Deno.test("content types", () => {
  assert.equal(contentTypeFor("prometheus"), "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(contentTypeFor("openmetrics"), "application/openmetrics-text; version=1.0.0; charset=utf-8");
  assert.equal(PROMETHEUS_CONTENT_TYPE, contentTypeFor("prometheus"));
  assert.equal(OPENMETRICS_CONTENT_TYPE, contentTypeFor("openmetrics"));
});

Deno.test("special values are rendered in exposition spelling", () => {
  const r = new Registry();
  const g = r.gauge({ name: "g", help: "g", labelNames: ["k"] });
  g.labels(["nan"]).set(NaN);
  g.labels(["inf"]).set(Infinity);
  g.labels(["ninf"]).set(-Infinity);
  const text = r.encode();
  assert.ok(text.includes('g{k="nan"} NaN'));
  assert.ok(text.includes('g{k="inf"} +Inf'));
  assert.ok(text.includes('g{k="ninf"} -Inf'));
  assert.equal(parseScrape(text).families[0].metrics.length, 3);
});
