#!/usr/bin/python3
"""Send several GET requests with Range headers in one write (HTTP/1.1 pipelining) and print
the bodies of the responses, concatenated, in order. Used by test_server_role.c.
usage: pipeline.py PORT PATH RANGE..."""
import socket
import sys

port, path, ranges = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(5)
s.sendall(b"".join(("GET %s HTTP/1.1\r\nHost: x\r\nRange: bytes=%s\r\n\r\n" % (path, r)).encode()
                  for r in ranges))
buf = b""
bodies = []
while len(bodies) < len(ranges):
    head_end = buf.find(b"\r\n\r\n")
    if head_end >= 0:
        head = buf[:head_end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        if len(buf) >= head_end + 4 + length:
            if not head.startswith("HTTP/1.1 206"):
                sys.exit("unexpected status: " + head.split("\r\n")[0])
            bodies.append(buf[head_end + 4:head_end + 4 + length])
            buf = buf[head_end + 4 + length:]
            continue
    chunk = s.recv(65536)
    if not chunk:
        sys.exit("connection closed after %d responses" % len(bodies))
    buf += chunk
sys.stdout.buffer.write(b"".join(bodies))
