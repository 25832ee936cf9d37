/** RFC 9113 §8 header-section rules as pure decisions: requests (CONNECT and others), responses, trailers. */
import assert from "node:assert/strict";
import { checkRequest, checkResponse, checkTrailers } from "../../../lib/tunnel/h2/message_checks.ts";

const ok = (c: { ok: boolean }) => c.ok;

Deno.test("message checks: CONNECT needs :authority and no :scheme/:path; others need :method :scheme :path", () => {
  assert.ok(ok(checkRequest([[":method", "CONNECT"], [":authority", "10.0.0.1:80"], ["baggage", "k=v"]])));
  assert.ok(!ok(checkRequest([[":method", "CONNECT"]])));
  assert.ok(!ok(checkRequest([[":method", "CONNECT"], [":authority", "a:1"], [":scheme", "https"]])));
  assert.ok(
    ok(checkRequest([[":method", "CONNECT"], [":protocol", "websocket"], [":scheme", "https"], [
      ":path",
      "/",
    ], [":authority", "a"]])),
    "extended CONNECT (RFC 8441) carries :scheme and :path",
  );
  assert.ok(ok(checkRequest([[":method", "GET"], [":scheme", "http"], [":path", "/"]])));
  assert.ok(!ok(checkRequest([[":method", "GET"], [":scheme", "http"], [":path", ""]])));
  assert.ok(!ok(checkRequest([[":method", "GET"], [":protocol", "x"], [":scheme", "http"], [":path", "/"]])));
});

Deno.test("message checks: pseudo-header order, duplicates, unknown ones, names, values, connection fields", () => {
  const base: Array<[string, string]> = [[":method", "CONNECT"], [":authority", "a:1"]];
  for (
    const bad of [
      [["x", "1"], ...base],
      [...base, [":authority", "b:2"]],
      [...base, [":status", "200"]],
      [...base, [":foo", "1"]],
      [...base, ["Upper", "1"]],
      [...base, ["sp ace", "1"]],
      [...base, ["x", "a\r\nb"]],
      [...base, ["connection", "keep-alive"]],
      [...base, ["transfer-encoding", "chunked"]],
      [...base, ["te", "gzip"]],
      [...base, ["content-length", "abc"]],
      [...base, ["content-length", "1"], ["content-length", "2"]],
    ] as Array<Array<[string, string]>>
  ) assert.ok(!ok(checkRequest(bad)), JSON.stringify(bad));
  assert.ok(ok(checkRequest([...base, ["te", "trailers"]])));
  assert.deepEqual(checkRequest([...base, ["content-length", "12"]]), { ok: true, contentLength: 12 });
});

Deno.test("message checks: a response needs one 3-digit :status and no request pseudo-headers", () => {
  assert.deepEqual(checkResponse([[":status", "200"]]), { ok: true, contentLength: undefined, status: 200 });
  assert.equal((checkResponse([[":status", "103"]]) as { status: number }).status, 103);
  for (
    const bad of [[], [[":status", "2000"]], [[":status", "200"], [":status", "200"]], [[":status", "200"], [
      ":path",
      "/",
    ]], [["x", "1"], [":status", "200"]]] as Array<Array<[string, string]>>
  ) assert.ok(!ok(checkResponse(bad)), JSON.stringify(bad));
});

Deno.test("message checks: trailers carry no pseudo-headers", () => {
  assert.ok(ok(checkTrailers([["grpc-status", "0"]])));
  assert.ok(!ok(checkTrailers([[":status", "200"]])));
});
