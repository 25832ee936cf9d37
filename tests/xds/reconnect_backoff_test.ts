import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import {
  classifyStatus,
  INITIAL_BACKOFF_MS,
  MAX_BACKOFF_MS,
  ReconnectBackoff,
} from "../../lib/xds/reconnect_backoff.ts";

Deno.test("errors double from 10 ms up to 15 s", () => {
  const b = new ReconnectBackoff();
  const seq = Array.from({ length: 14 }, () => b.next("error"));
  assert.deepEqual(seq, [20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 15000, 15000, 15000, 15000]);
  assert.equal(INITIAL_BACKOFF_MS, 10);
  assert.equal(MAX_BACKOFF_MS, 15000);
});

Deno.test("benign closes and clean ends reconnect after 10 ms and reset the doubling", () => {
  const b = new ReconnectBackoff();
  b.next("error");
  b.next("error");
  assert.equal(b.next("reconnect"), 10);
  assert.equal(b.next("error"), 20);
  b.next("error");
  assert.equal(b.next("complete"), 10);
  assert.equal(b.current, 10);
});

Deno.test("a successful response resets the backoff", () => {
  const b = new ReconnectBackoff();
  for (let i = 0; i < 5; i++) b.next("error");
  assert.equal(b.current, 320);
  b.reset();
  assert.equal(b.next("error"), 20);
});

Deno.test("status classification matches ztunnel's run_loop", () => {
  assert.equal(classifyStatus(status.OK, ""), "complete");
  assert.equal(classifyStatus(status.UNKNOWN, "x"), "reconnect");
  assert.equal(classifyStatus(status.CANCELLED, "x"), "reconnect");
  assert.equal(classifyStatus(status.DEADLINE_EXCEEDED, "x"), "reconnect");
  assert.equal(classifyStatus(status.UNAVAILABLE, "error reading: transport is closing"), "reconnect");
  assert.equal(classifyStatus(status.UNAVAILABLE, "received prior goaway: code: NO_ERROR"), "reconnect");
  assert.equal(classifyStatus(status.UNAVAILABLE, "No connection established"), "error");
  assert.equal(classifyStatus(status.PERMISSION_DENIED, "x"), "error");
  assert.equal(classifyStatus(status.UNAUTHENTICATED, "x"), "error");
  assert.equal(classifyStatus(status.INTERNAL, "x"), "error");
});
