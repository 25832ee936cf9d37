/**
 * The credentials zt sends on every control-plane gRPC call (xDS and CA), as ztunnel's AuthSource:
 * `authorization: Bearer <token>` plus `clusterid: <id>`. A file token is re-read on every call,
 * so a rotated projected service-account token is picked up without a restart.
 */
import { ZtError } from "../error.ts";

export type AuthSource =
  | { readonly kind: "file"; readonly path: string; readonly clusterId: string }
  | { readonly kind: "static"; readonly token: string; readonly clusterId: string }
  | { readonly kind: "none" };

export const DEFAULT_TOKEN_PATH = "./var/run/secrets/tokens/istio-token";

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch (e) {
    // A path we may not read is still a path: reading it later fails loudly instead of sending the
    // path as a literal bearer token.
    return e instanceof Deno.errors.NotCapable;
  }
}

/**
 * From the AUTH_TOKEN value: unset → the default token file if it exists, else no credentials;
 * an existing file path → that file; anything else → a literal token.
 */
export function authSourceFromEnv(
  value: string | undefined,
  clusterId: string,
  exists: (path: string) => boolean = fileExists,
): AuthSource {
  if (value === undefined || value === "") {
    return exists(DEFAULT_TOKEN_PATH)
      ? { kind: "file", path: DEFAULT_TOKEN_PATH, clusterId }
      : { kind: "none" };
  }
  if (exists(value)) return { kind: "file", path: value, clusterId };
  return { kind: "static", token: value, clusterId };
}

/**
 * The headers for one call. Reads the token file now; throws ZtError("auth") when it is
 * unreadable or empty (the call then fails, like ztunnel's Unauthenticated interceptor error).
 */
export function authHeaders(src: AuthSource): Record<string, string> {
  if (src.kind === "none") return {};
  let token: string;
  if (src.kind === "static") {
    token = src.token;
  } else {
    try {
      token = Deno.readTextFileSync(src.path);
    } catch (e) {
      throw new ZtError("auth", `cannot read token file ${src.path}: ${e instanceof Error ? e.message : e}`);
    }
    // A trailing newline is not part of the JWT (and is invalid in a header value).
    token = token.replace(/\s+$/, "");
    if (!token) throw new ZtError("auth", `token file ${src.path} exists, but was empty`);
  }
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (src.clusterId) headers.clusterid = src.clusterId;
  return headers;
}
