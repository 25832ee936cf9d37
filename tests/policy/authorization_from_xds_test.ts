import assert from "node:assert/strict";
import { ZtError } from "../../lib/error.ts";
import {
  AUTHORIZATION_TYPE_URL,
  authorizationFromXds,
  authorizationFromXdsBytes,
  encodeAuthorization,
  type XdsAuthorization,
} from "../../lib/policy/authorization_from_xds.ts";
import { emptyMatch } from "../../lib/policy/model.ts";
import { ipBytes } from "../../lib/state/ip.ts";

const ip = (s: string) => ipBytes(s)!;

function xdsError(field: RegExp) {
  return (e: unknown) => e instanceof ZtError && e.kind === "xds" && field.test(e.message);
}

const FULL: XdsAuthorization = {
  name: "allow-web",
  namespace: "ns1",
  scope: 2,
  action: 1,
  dryRun: true,
  rules: [{
    clauses: [{
      matches: [{
        namespaces: [{ exact: "ns1" }],
        notNamespaces: [{ prefix: "kube-" }],
        principals: [{ suffix: "/sa/web" }],
        notPrincipals: [{ presence: {} }],
        sourceIps: [{ address: ip("10.0.0.0"), length: 8 }],
        notSourceIps: [{ address: ip("10.1.2.3"), length: 32 }],
        destinationIps: [{ address: ip("2001:db8::"), length: 32 }],
        notDestinationIps: [{ address: ip("fd00::1"), length: 128 }],
        destinationPorts: [80, 443],
        notDestinationPorts: [8080],
        serviceAccounts: [{ namespace: "ns1", serviceAccount: "web" }],
        notServiceAccounts: [{ namespace: "ns2", serviceAccount: "bad" }],
      }, { principals: [{ exact: "" }] }],
    }, { matches: [] }],
  }, {}],
};

Deno.test("an authorization with every field converts through the wire", () => {
  const a = authorizationFromXdsBytes(encodeAuthorization(FULL));
  assert.deepEqual(a, {
    name: "allow-web",
    namespace: "ns1",
    scope: "WorkloadSelector",
    action: "Deny",
    dryRun: true,
    rules: [
      [
        [{
          namespaces: [{ kind: "exact", value: "ns1" }],
          notNamespaces: [{ kind: "prefix", value: "kube-" }],
          principals: [{ kind: "suffix", value: "/sa/web" }],
          notPrincipals: [{ kind: "presence" }],
          sourceIps: [{ ip: "10.0.0.0", prefixLen: 8 }],
          notSourceIps: [{ ip: "10.1.2.3", prefixLen: 32 }],
          destinationIps: [{ ip: "2001:db8::", prefixLen: 32 }],
          notDestinationIps: [{ ip: "fd00::1", prefixLen: 128 }],
          destinationPorts: [80, 443],
          notDestinationPorts: [8080],
          serviceAccounts: [{ namespace: "ns1", serviceAccount: "web" }],
          notServiceAccounts: [{ namespace: "ns2", serviceAccount: "bad" }],
        }, { ...emptyMatch(), principals: [{ kind: "exact", value: "" }] }],
        [],
      ],
      [],
    ],
  });
});

Deno.test("defaults: GLOBAL scope, ALLOW action, no rules", () => {
  assert.deepEqual(authorizationFromXdsBytes(encodeAuthorization({ name: "p", namespace: "n" })), {
    name: "p",
    namespace: "n",
    scope: "Global",
    action: "Allow",
    dryRun: false,
    rules: [],
  });
  assert.equal(authorizationFromXds({ scope: 1 }).scope, "Namespace");
});

Deno.test("an empty exact string is still an exact match (oneof presence, not truthiness)", () => {
  const a = authorizationFromXdsBytes(
    encodeAuthorization({
      rules: [{ clauses: [{ matches: [{ namespaces: [{ exact: "" }, { prefix: "" }] }] }] }],
    }),
  );
  assert.deepEqual(a.rules[0][0][0].namespaces, [{ kind: "exact", value: "" }, {
    kind: "prefix",
    value: "",
  }]);
});

Deno.test("invalid fields are named in the error", () => {
  const at = (m: object): XdsAuthorization => ({ rules: [{ clauses: [{}, { matches: [{}, m] }] }] });
  assert.throws(
    () => authorizationFromXds(at({ principals: [{ exact: "a" }, {}] })),
    xdsError(/^rules\[0\]\.clauses\[1\]\.matches\[1\]\.principals\[1\]: no match_type/),
  );
  assert.throws(
    () => authorizationFromXds(at({ sourceIps: [{ address: new Uint8Array(5), length: 8 }] })),
    xdsError(/^rules\[0\]\.clauses\[1\]\.matches\[1\]\.source_ips\[0\]\.address: invalid IP length 5/),
  );
  assert.throws(
    () => authorizationFromXds(at({ notDestinationIps: [{ address: ip("10.0.0.0"), length: 33 }] })),
    xdsError(/not_destination_ips\[0\]\.length: prefix length 33 exceeds 32/),
  );
  assert.throws(
    () => authorizationFromXds(at({ destinationPorts: [80, 70000] })),
    xdsError(/destination_ports\[1\]: invalid port 70000/),
  );
  assert.throws(() => authorizationFromXds({ scope: 3 }), xdsError(/^scope:/));
  assert.throws(() => authorizationFromXds({ action: 2 }), xdsError(/^action:/));
});

Deno.test("the Authorization type URL", () => {
  assert.equal(AUTHORIZATION_TYPE_URL, "type.googleapis.com/istio.security.Authorization");
});
