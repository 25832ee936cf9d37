#!/usr/bin/env python3
"""An independent istio-cni ZDS server for testing zt's client (Python 3.11 stdlib only).

Written from the protocol facts (inpod-dns-facts.md section 2), not from zt's TypeScript:
AF_UNIX SOCK_SEQPACKET, one protobuf message per packet, the pod's netns fd in SCM_RIGHTS on Add.

Usage: zds_server.py --path SOCK [--pods JSON] [--deadline-ms 5000] [--keepalive-ms 5000] [--probe-ms 10]

--pods is the cache known before listening: a JSON list of
  {"uid", "name", "namespace", "serviceAccount", "netns"?}   (no "netns": the snapshot sends Keep)

Commands, one JSON object per line on stdin:
  {"op": "add", "uid", "name", "namespace", "serviceAccount", "netns"}   cache it, send Add to the latest connection
  {"op": "keep", "uid", "name", "namespace", "serviceAccount"}           cache it without a netns (Keep in snapshots)
  {"op": "del", "uid"}                                                  uncache it, send Del to every connection
  {"op": "raw", "hex", "netns": [paths]}                                send raw bytes (+ fds) to the latest connection
  {"op": "status"}                                                      print connections and cached pods
  {"op": "quit"}
Every event is one JSON line on stdout: listening, connected, hello, ack (with "for", "uid", "error",
"phase"), ack_timeout, error, protocol_error, closed, status.
"""

import argparse
import array
import json
import os
import queue
import socket
import sys
import threading
import time

OUT_LOCK = threading.Lock()


def emit(event, **fields):
    with OUT_LOCK:
        sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
        sys.stdout.flush()


# ---- protobuf (proto3 wire format), just what ZDS uses --------------------------------------------


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def field_str(num, text):
    if not text:
        return b""  # proto3 leaves empty strings out
    return field_bytes(num, text.encode("utf-8"))


def workload_info(name, namespace, sa):
    return field_str(1, name) + field_str(2, namespace) + field_str(3, sa)


def req_add(uid, name, namespace, sa):
    # WorkloadRequest.add = 1 { uid = 1, workload_info = 2 }
    return field_bytes(1, field_str(1, uid) + field_bytes(2, workload_info(name, namespace, sa)))


def req_keep(uid):
    return field_bytes(5, field_str(1, uid))  # keep = 5 { uid = 1 }


def req_del(uid):
    return field_bytes(2, field_str(2, uid))  # del = 2 { uid = 2 }


def req_snapshot_sent():
    return field_bytes(3, b"")  # snapshot_sent = 3 {} -> 1a 00


def read_varint(buf, i):
    shift = 0
    value = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def fields(buf):
    i = 0
    while i < len(buf):
        tag, i = read_varint(buf, i)
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = read_varint(buf, i)
        elif wire == 2:
            n, i = read_varint(buf, i)
            if i + n > len(buf):
                raise ValueError("truncated field")
            value, i = buf[i:i + n], i + n
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("bad wire type %d" % wire)
        yield num, wire, value


def decode_ack(buf):
    """WorkloadResponse { ack = 1 { error = 1 } } -> the error text ('' for success)."""
    error = None
    for num, wire, value in fields(buf):
        if num == 1 and wire == 2:
            error = error or ""
            for n2, w2, v2 in fields(value):
                if n2 == 1 and w2 == 2:
                    error = v2.decode("utf-8")
    return "" if error is None else error


def decode_hello(buf):
    version = 0
    for num, wire, value in fields(buf):
        if num == 1 and wire == 0:
            version = value
    return version


# ---- the server -----------------------------------------------------------------------------------


class Pod:
    def __init__(self, uid, name, namespace, sa, netns_path=None):
        self.uid, self.name, self.namespace, self.sa = uid, name, namespace, sa
        self.fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC) if netns_path else None

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Closed(Exception):
    pass


class Conn:
    """One connected node proxy: hello, snapshot, then updates from its queue with a keepalive probe."""

    def __init__(self, server, sock, cid):
        self.server, self.sock, self.id = server, sock, cid
        self.updates = queue.Queue(maxsize=100)
        self.alive = True

    def recv(self, timeout):
        self.sock.settimeout(timeout)
        data, _anc, flags, _addr = self.sock.recvmsg(1024)
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
            raise Closed("truncated message")
        if not data:
            raise Closed("eof")
        return data

    def exchange(self, what, uid, payload, fds, phase):
        """Sends one request, then reads the next packet as its ack. Returns the error text."""
        self.sock.settimeout(self.server.deadline)
        try:
            if fds:
                socket.send_fds(self.sock, [payload], fds)
            else:
                self.sock.sendmsg([payload])
        except BrokenPipeError as e:
            raise Closed("broken pipe") from e
        except OSError as e:
            raise Closed("send failed: %s" % e) from e
        try:
            data = self.recv(self.server.deadline)
        except socket.timeout:
            emit("ack_timeout", conn=self.id, **{"for": what}, uid=uid, phase=phase)
            return None
        error = decode_ack(data)
        emit("ack", conn=self.id, **{"for": what}, uid=uid, error=error, phase=phase)
        return error

    def run(self):
        try:
            try:
                hello = self.recv(self.server.deadline)
            except socket.timeout:
                raise Closed("no hello within the deadline")
            emit("hello", conn=self.id, version=decode_hello(hello))
            for pod in self.server.snapshot():
                if pod.fd is not None:
                    payload = req_add(pod.uid, pod.name, pod.namespace, pod.sa)
                    err = self.exchange("add", pod.uid, payload, [pod.fd], "snapshot")
                else:
                    err = self.exchange("keep", pod.uid, req_keep(pod.uid), [], "snapshot")
                if err is None:
                    raise Closed("ack timeout during the snapshot")
            if self.exchange("snapshot_sent", "", req_snapshot_sent(), [], "snapshot") is None:
                raise Closed("ack timeout during the snapshot")
            while True:
                try:
                    what, uid, payload, fds = self.updates.get(timeout=self.server.keepalive)
                except queue.Empty:
                    self.probe()
                    continue
                if what == "close":
                    raise Closed("server closing")
                try:
                    self.exchange(what, uid, payload, fds, "update")  # a timed-out ack keeps the connection
                finally:
                    if what == "raw":
                        for fd in fds:
                            os.close(fd)
        except Closed as e:
            emit("closed", conn=self.id, reason=str(e))
        except OSError as e:
            emit("closed", conn=self.id, reason="error: %s" % e)
        finally:
            self.alive = False
            self.server.forget(self)
            try:
                self.sock.close()
            except OSError:
                pass

    def probe(self):
        """After a quiet period: a short read. Nothing = alive; EOF = gone; any packet = protocol error."""
        try:
            self.recv(self.server.probe)
        except socket.timeout:
            return
        except Closed:
            raise
        emit("protocol_error", conn=self.id, error="ztunnel protocol error, unexpected message")
        raise Closed("protocol error")


class Server:
    def __init__(self, path, pods, deadline, keepalive, probe):
        self.path = path
        self.deadline, self.keepalive, self.probe = deadline, keepalive, probe
        self.lock = threading.Lock()
        self.pods = {}
        self.conns = []
        self.next_id = 1
        for p in pods:
            self.pods[p["uid"]] = Pod(p["uid"], p["name"], p["namespace"], p["serviceAccount"], p.get("netns"))
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(path)
        self.listener.listen(128)

    def snapshot(self):
        with self.lock:
            return list(self.pods.values())

    def forget(self, conn):
        with self.lock:
            if conn in self.conns:
                self.conns.remove(conn)

    def accept_loop(self):
        last = 0.0
        while True:
            wait = last + 0.2 - time.monotonic()  # at most 5 accepts a second
            if wait > 0:
                time.sleep(wait)
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            last = time.monotonic()
            with self.lock:
                conn = Conn(self, sock, self.next_id)
                self.next_id += 1
                self.conns.append(conn)  # before the hello, as istio-cni does
            emit("connected", conn=conn.id)
            threading.Thread(target=conn.run, daemon=True).start()

    def latest(self):
        with self.lock:
            live = [c for c in self.conns if c.alive]
            return live[-1] if live else None

    def command(self, cmd):
        op = cmd.get("op")
        if op in ("add", "keep"):
            uid = cmd["uid"]
            with self.lock:
                old = self.pods.pop(uid, None)
                if old:
                    old.close()
                pod = Pod(uid, cmd.get("name", ""), cmd.get("namespace", ""), cmd.get("serviceAccount", ""),
                          cmd.get("netns") if op == "add" else None)
                self.pods[uid] = pod
            if op == "keep":
                return
            conn = self.latest()
            if not conn:
                emit("error", op="add", uid=uid, error="no ztunnel connection")
                return
            conn.updates.put(("add", uid, req_add(uid, pod.name, pod.namespace, pod.sa), [pod.fd]))
        elif op == "del":
            uid = cmd["uid"]
            with self.lock:
                old = self.pods.pop(uid, None)
                conns = list(self.conns)
            for c in conns:
                c.updates.put(("del", uid, req_del(uid), []))
            if old:
                # Closed once the queued Dels no longer need it (they carry no fd): now.
                old.close()
        elif op == "raw":
            conn = self.latest()
            if not conn:
                emit("error", op="raw", error="no ztunnel connection")
                return
            fds = [os.open(p, os.O_RDONLY | os.O_CLOEXEC) for p in cmd.get("netns", [])]
            conn.updates.put(("raw", "", bytes.fromhex(cmd["hex"]), fds))
        elif op == "status":
            with self.lock:
                emit("status", connections=len([c for c in self.conns if c.alive]), pods=sorted(self.pods))
        elif op == "quit":
            self.close()
            sys.exit(0)
        else:
            emit("error", op=str(op), error="unknown command")

    def close(self):
        self.listener.close()  # listener first, so a reconnecting proxy does not land on us
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            c.updates.put(("close", "", b"", []))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--path", required=True)
    ap.add_argument("--pods", default="[]")
    ap.add_argument("--deadline-ms", type=int, default=5000)
    ap.add_argument("--keepalive-ms", type=int, default=5000)
    ap.add_argument("--probe-ms", type=int, default=10)
    args = ap.parse_args()
    server = Server(args.path, json.loads(args.pods), args.deadline_ms / 1000, args.keepalive_ms / 1000,
                    args.probe_ms / 1000)
    threading.Thread(target=server.accept_loop, daemon=True).start()
    emit("listening", path=args.path)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            server.command(json.loads(line))
        except (ValueError, KeyError, OSError) as e:
            emit("error", op="command", error=str(e))
    server.close()


if __name__ == "__main__":
    main()
