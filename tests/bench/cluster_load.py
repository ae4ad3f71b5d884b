#!/usr/bin/env python3
"""tests/bench/cluster_load.py: the mixed load of scripts/bench-cluster (not a test itself).

cluster_load.py BASE_URL SECONDS CLIENTS ROWS
CLIENTS threads, each its own user (trust-body auth: userId in the query or body), loop for
SECONDS: ingest a small statement of ROWS rows (POST ingest-statement), commit it (POST
commit-import), read the ledger twice (GET transactions).  One more thread holds an SSE stream
(GET import-events, Accept: text/event-stream) of the first user open for the whole run and
counts the events it receives.  Kept-alive HTTP/1.1 connections to nginx.  Prints one JSON
object: requests and errors per kind, events streamed, elapsed seconds, the client's own CPU
seconds.  Any non-2xx answer counts as an error (never retried)."""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid

base = urllib.parse.urlparse(sys.argv[1])
seconds, clients, rows = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
deadline = time.monotonic() + seconds
lock = threading.Lock()
counts = {"ingest": 0, "commit": 0, "read": 0}
errors = {"ingest": 0, "commit": 0, "read": 0, "sse": 0}
events = [0]
users = [str(uuid.uuid4()) for _ in range(clients)]


def conn():
    return http.client.HTTPConnection(base.hostname, base.port, timeout=120)


def call(c, kind, method, path, body=None, ctype=None):
    headers = {"Content-Type": ctype} if ctype else {}
    try:
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        ok = 200 <= r.status < 300
    except (OSError, http.client.HTTPException):
        ok, data = False, b""
        c.close()
    with lock:
        if ok:
            counts[kind] += 1
        else:
            errors[kind] += 1
    return data if ok else None


def client(i):
    user, c, n = users[i], conn(), 0
    while time.monotonic() < deadline:
        n += 1
        csv = "Date,Description,Amount,Currency\n" + "".join(
            "2024-06-%02d,Bench shop %d-%d-%d,-%d.%02d,USD\n" % (r % 28 + 1, i, n, r, n % 90 + 1, r % 100)
            for r in range(rows))
        q = urllib.parse.urlencode({"userId": user, "fileName": "b%d.csv" % n})
        data = call(c, "ingest", "POST", "/.netlify/functions/ingest-statement?" + q, csv.encode(), "text/csv")
        if data is None:
            continue
        imp = json.loads(data).get("importId")
        call(c, "commit", "POST", "/.netlify/functions/commit-import",
             json.dumps({"userId": user, "importId": imp}).encode(), "application/json")
        for _ in range(2):
            call(c, "read", "GET", "/.netlify/functions/transactions?" + urllib.parse.urlencode(
                {"userId": user, "limit": 20}))


def sse():
    c = conn()
    q = urllib.parse.urlencode({"userId": users[0]})
    try:
        c.request("GET", "/.netlify/functions/import-events?" + q, headers={"Accept": "text/event-stream"})
        r = c.getresponse()
        if r.status != 200:
            raise OSError("status %d" % r.status)
        c.sock.settimeout(1.0)
        while time.monotonic() < deadline:
            try:
                line = r.fp.readline()
            except TimeoutError:
                continue
            if not line:
                break
            if line.startswith(b"event:"):
                with lock:
                    events[0] += 1
    except (OSError, http.client.HTTPException):
        with lock:
            errors["sse"] += 1
    c.close()


start = time.monotonic()
threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
threads.append(threading.Thread(target=sse))
for t in threads:
    t.start()
for t in threads:
    t.join()
t = os.times()
print(json.dumps({"elapsed": round(time.monotonic() - start, 3), "requests": counts, "errors": errors,
                  "sse_events": events[0], "client_cpu_s": round(t.user + t.system, 3)}))
