/**
 * Control-plane TLS material for tests: a throw-away CA and server certificates with DNS/IP SANs
 * (what istiod's serving certificate looks like to ztunnel), made with @peculiar/x509.
 */
import * as x509 from "@peculiar/x509";

const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;

export interface ServerTls {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface ControlPlaneCa {
  readonly caPem: string;
  /** Issues a server certificate for the given names (DNS names and IP addresses). */
  issueServer(sans: { dns?: string[]; ips?: string[] }): Promise<ServerTls>;
}

function pem(der: ArrayBuffer, label: string): string {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
}

function serial(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("")
    .replace(/^[89a-f]/, "1");
}

export async function makeControlPlaneCa(name = "zt test control plane CA"): Promise<ControlPlaneCa> {
  const caKeys = await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const now = Date.now();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    keys: caKeys,
    signingAlgorithm: SIGNING,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
    ],
  }, crypto);
  return {
    caPem: caCert.toString("pem") + "\n",
    async issueServer(sans) {
      const keys = await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
      const names: x509.JsonGeneralName[] = [
        ...(sans.dns ?? []).map((value) => ({ type: "dns" as const, value })),
        ...(sans.ips ?? []).map((value) => ({ type: "ip" as const, value })),
      ];
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: `CN=${sans.dns?.[0] ?? sans.ips?.[0] ?? "server"}`,
        issuer: caCert.subject,
        publicKey: keys.publicKey,
        signingKey: caKeys.privateKey,
        signingAlgorithm: SIGNING,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 86_400_000),
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension(names, false),
        ],
      }, crypto);
      return {
        certPem: cert.toString("pem") + "\n",
        keyPem: pem(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY"),
      };
    },
  };
}
