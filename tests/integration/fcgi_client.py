#!/usr/bin/env python3
# tests/integration/fcgi_client.py: the smallest FastCGI client, for t0110 (a responder started
# the way systemd starts it, its socket on fd 0, asked without nginx).
#   fcgi_client.py SOCKET PATH      one GET PATH; prints the response (CGI head and body), exit 0
#   fcgi_client.py --listen SOCKET  creates the listening unix socket SOCKET and runs the rest of
#                                   argv with it as standard input (what StandardInput=socket does)
#   fcgi_client.py --connect SOCKET exit 0 when SOCKET accepts a connection, 1 when refused
#   fcgi_client.py --hold SOCKET RUNS PROGRAM [ARG...]
#                                   what systemd does for a socket unit and its service: holds the
#                                   listening socket and runs PROGRAM with it as standard input,
#                                   RUNS times one after the other; writes SOCKET.pid (the running
#                                   one's pid) and appends each exit status to SOCKET.exits; after
#                                   the first run, starts the next only once SOCKET.go exists
#                                   (removing it)
import os
import socket
import struct
import sys


def record(kind, content, request_id=1):
    pad = (8 - len(content) % 8) % 8
    return struct.pack("!BBHHBx", 1, kind, request_id, len(content), pad) + content + b"\0" * pad


def pair(name, value):
    def length(n):
        return struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 0x80000000)
    return length(len(name)) + length(len(value)) + name + value


def get(path, uri):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    params = {"REQUEST_METHOD": "GET", "REQUEST_URI": uri, "DOCUMENT_URI": uri, "SCRIPT_NAME": uri,
              "QUERY_STRING": "", "CONTENT_LENGTH": "", "SERVER_PROTOCOL": "HTTP/1.1",
              "REQUEST_ID": "t0110", "REMOTE_ADDR": "127.0.0.1"}
    body = b"".join(pair(k.encode(), v.encode()) for k, v in params.items())
    s.sendall(record(1, struct.pack("!HB5x", 1, 0)) + record(4, body) + record(4, b"") + record(5, b""))
    out = b""
    while True:
        head = s.recv(8, socket.MSG_WAITALL)
        if len(head) < 8:
            break
        _, kind, _, n, pad = struct.unpack("!BBHHBx", head)
        content = s.recv(n + pad, socket.MSG_WAITALL)[:n] if n + pad else b""
        if kind == 6:
            out += content
        elif kind == 3:
            break
    s.close()
    sys.stdout.write(out.decode("utf-8", "replace"))
    return 0 if out else 1


def listening(path):
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1024)
    return s


def hold(path, runs, argv):
    import subprocess
    import time
    s = listening(path)
    for run in range(runs):
        if run > 0:
            while not os.path.exists(path + ".go"):
                time.sleep(0.02)
            os.unlink(path + ".go")
        child = subprocess.Popen(argv, stdin=s.fileno())
        with open(path + ".pid", "w") as f:
            f.write("%d\n" % child.pid)
        status = child.wait()
        with open(path + ".exits", "a") as f:
            f.write("%d\n" % status)
    return 0


def main():
    if sys.argv[1] == "--hold":
        return hold(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    if sys.argv[1] == "--listen":
        s = listening(sys.argv[2])
        os.dup2(s.fileno(), 0)
        s.close()
        os.execvp(sys.argv[3], sys.argv[3:])
    if sys.argv[1] == "--connect":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(sys.argv[2])
        except OSError:
            return 1
        s.close()
        return 0
    return get(sys.argv[1], sys.argv[2])


sys.exit(main())
