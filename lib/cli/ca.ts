/** `zt ca init DIR`: writes Istio's plug-in CA files for the built-in CA. */
import { parseArgs } from "node:util";
import { initCaDir } from "../identity/builtin_ca.ts";
import { errorMessage } from "../error.ts";

export const CA_HELP = `zt ca init DIR [--trust-domain cluster.local] [--force]

Writes root-cert.pem, ca-cert.pem, ca-key.pem and cert-chain.pem (Istio's plug-in CA files) into DIR.
Nodes started with LOCAL_CA_DIR=DIR issue their pods' certificates from it and trust each other.`;

export async function caCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { "trust-domain": { type: "string" }, force: { type: "boolean" } },
      allowPositionals: true,
    });
  } catch (e) {
    console.error(`zt ca: ${errorMessage(e)}\n\n${CA_HELP}`);
    return 2;
  }
  const [sub, dir] = parsed.positionals;
  if (sub !== "init" || !dir) {
    console.error(CA_HELP);
    return 2;
  }
  try {
    await initCaDir(dir, { trustDomain: parsed.values["trust-domain"], force: parsed.values.force });
  } catch (e) {
    console.error(`zt ca init: ${errorMessage(e)}`);
    return 1;
  }
  console.log(`CA written to ${dir}`);
  return 0;
}
