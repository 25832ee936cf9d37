#!/usr/bin/env python3
"""An independent TCP peer that tells a clean end (FIN) from a reset (RST), for zt's fault tests.

  tcp_end_probe.py serve IP PORT
      Each connection sends one command line first:
        "reset N\n"  the server sends N bytes, then resets the connection (SO_LINGER 0).
        "watch\n"    the server reads until the end and prints "end EOF <bytes>" or "end RESET <bytes>".
      Prints "listening" once bound; runs until killed.
  tcp_end_probe.py socks-reset PROXY_IP PROXY_PORT DST_IP DST_PORT N
      SOCKS5 CONNECT through the proxy, sends "watch\n" and N bytes, waits a little, then resets.
      Prints "reply <code>".
"""
import socket
import struct
import sys
import threading
import time

LINGER_ZERO = struct.pack("ii", 1, 0)


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)
    sock.close()


def read_line(sock):
    line = b""
    while not line.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            return None
        line += b
    return line.decode().strip()


def handle(conn):
    try:
        cmd = read_line(conn)
        if cmd is None:
            conn.close()
            return
        if cmd.startswith("reset "):
            conn.sendall(b"r" * int(cmd.split()[1]))
            time.sleep(0.05)
            reset(conn)
            return
        if cmd == "watch":
            total = 0
            try:
                while True:
                    b = conn.recv(65536)
                    if not b:
                        print(f"end EOF {total}", flush=True)
                        break
                    total += len(b)
            except ConnectionResetError:
                print(f"end RESET {total}", flush=True)
            conn.close()
    except OSError as e:
        print(f"error {e}", flush=True)


def serve(ip, port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ip, port))
    srv.listen(64)
    print("listening", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def socks_reset(pip, pport, dip, dport, n):
    s = socket.create_connection((pip, pport))
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(dip) + struct.pack(">H", dport))
    head = s.recv(10)
    print(f"reply {head[1]}", flush=True)
    if head[1] != 0:
        s.close()
        return
    s.sendall(b"watch\n" + b"w" * n)
    time.sleep(0.3)
    reset(s)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "socks-reset":
        socks_reset(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    else:
        sys.exit(f"unknown mode {sys.argv[1]}")
