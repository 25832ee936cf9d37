/** Scraping a node's /metrics and reading it with a real Prometheus text parser. */
import parsePrometheus from "parse-prometheus-text-format";

export interface Sample {
  readonly value: string;
  readonly labels?: Record<string, string>;
}

export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly metrics: Sample[];
}

export interface Scrape {
  readonly text: string;
  readonly families: Family[];
  /** The samples of `name` whose labels include every pair of `match`. */
  samples(name: string, match?: Record<string, string>): Sample[];
  /** The sum of those samples' values (0 when there are none). */
  sum(name: string, match?: Record<string, string>): number;
}

export function parseScrape(text: string): Scrape {
  const families = parsePrometheus(text) as Family[];
  const samples = (name: string, match: Record<string, string> = {}) =>
    (families.find((f) => f.name === name)?.metrics ?? []).filter((m) =>
      Object.entries(match).every(([k, v]) => m.labels?.[k] === v)
    );
  return {
    text,
    families,
    samples,
    sum: (name, match) => samples(name, match).reduce((a, m) => a + Number(m.value), 0),
  };
}

/** GET http://<ip>:15020/metrics (Prometheus text), parsed. */
export async function scrape(ip: string, port = 15020): Promise<Scrape> {
  const res = await fetch(`http://${ip}:${port}/metrics`);
  if (res.status !== 200) throw new Error(`${ip}:${port}/metrics answered ${res.status}`);
  return parseScrape(await res.text());
}
