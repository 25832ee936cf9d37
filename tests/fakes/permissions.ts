/**
 * zt's permission flags, read from permissions.txt at the repository root: the same list compile.sh
 * bakes into the binary, so every node the tests start runs with exactly the binary's permissions.
 */

export const PERMISSIONS_FILE: string = new URL("../../permissions.txt", import.meta.url).pathname;

/** Parses the file's text: one flag per line, `#` to the end of a line is a comment. */
export function parsePermissions(text: string): string[] {
  const flags: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    if (!/^--allow-[a-z]+(=\S+)?$/.test(line) && !/^--v8-flags=\S+$/.test(line)) {
      throw new Error(`permissions.txt: "${line}" is not a single --allow-* or --v8-flags= flag`);
    }
    flags.push(line);
  }
  if (flags.some((f) => f === "-A" || f === "--allow-all")) {
    throw new Error("permissions.txt must not grant -A");
  }
  return flags;
}

let cached: string[] | undefined;

/** The flags, e.g. `["--allow-net", "--allow-read=/etc/zt,/tmp", ..., "--v8-flags=..."]`. */
export function ztPermissions(): string[] {
  cached ??= parsePermissions(Deno.readTextFileSync(PERMISSIONS_FILE));
  return [...cached];
}
