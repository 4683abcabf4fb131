#!/usr/bin/env python3
"""Replays a CRS corpus file (one JSON request per line) against an HTTP
front on loopback, as raw HTTP/1.1 (the corpus holds requests a client
library would refuse to send), and prints `id status` per line.

    waf_replay.py CORPUS PORT [--form-default] > statuses.txt

With --form-default, a body sent without a Content-Type is declared a form
(application/x-www-form-urlencoded), which is how the gateway reads such a
body; ModSecurity reads an undeclared body not at all.
"""
import concurrent.futures
import json
import socket
import sys


def raw_request(rec, form_default):
    body = rec.get("body") or ""
    body = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else b""
    headers = dict(rec.get("headers") or {})
    lower = {k.lower() for k in headers}
    if form_default and body and "content-type" not in lower:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if "content-length" not in lower and "transfer-encoding" not in lower and (body or rec.get("method") == "POST"):
        headers["Content-Length"] = str(len(body))
    headers["Connection"] = "close"
    head = f"{rec.get('method') or 'GET'} {rec.get('uri') or '/'} HTTP/1.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode("utf-8", "surrogateescape") + body


def status_of(port, rec, form_default):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(raw_request(rec, form_default))
            reply = b""
            while b"\r\n" not in reply:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        parts = reply.split(b" ", 2)
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    except OSError:
        return 0


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    form_default = "--form-default" in sys.argv[3:]
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for rec, status in zip(records, pool.map(lambda r: status_of(port, r, form_default), records)):
            print(rec["id"], status)


if __name__ == "__main__":
    main()
