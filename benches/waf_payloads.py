#!/usr/bin/env python3
"""Builds a second WAF corpus, in the CRS corpus's format, from public
attack lists and ordinary text that Debian ships, so detection can be
measured on inputs the rules were not written against:

- attacks: wfuzz's injection and traversal lists (Debian package `wfuzz`,
  /usr/share/wfuzz/wordlist) and sqlmap's payload templates (package
  `sqlmap`, data/xml/payloads), each template put behind a random sqlmap
  boundary with its placeholders filled;
- benign: lines of the Debian changelogs and copyright files on this
  machine (/usr/share/doc), the developer prose an ingestion API carries.

Each input is sent twice: as a query argument (`GET /get?q=...`) and as a
JSON string value (`POST /v1/ingest/demo`). Output: one JSON request per
line, `class` naming the list and the form (`sqlmap`, `sqlmap-json`, ...).

    waf_payloads.py WFUZZ_ROOT SQLMAP_ROOT OUT.jsonl [BENIGN_LINES]

WFUZZ_ROOT and SQLMAP_ROOT are where the two packages were unpacked
(`dpkg-deb -x`). The wfuzz lists that hold single characters and keywords
for fuzzing (`bad_chars.txt`, `All_attack.txt`) are left out: they are
probes of a parser, not attacks.
"""
import glob
import gzip
import json
import os
import random
import re
import sys
import urllib.parse
import xml.etree.ElementTree as ET

WFUZZ_LISTS = {
    "wfuzz-sqli": ["Injections/SQL.txt", "vulns/sql_inj.txt"],
    "wfuzz-xss": ["Injections/XSS.txt"],
    "wfuzz-xml": ["Injections/XML.txt"],
    "wfuzz-traversal": [
        "Injections/Traversal.txt",
        "vulns/dirTraversal.txt",
        "vulns/dirTraversal-nix.txt",
        "vulns/dirTraversal-win.txt",
    ],
}


def wfuzz(root):
    base = os.path.join(root, "usr/share/wfuzz/wordlist")
    for cls, names in WFUZZ_LISTS.items():
        seen = set()
        for name in names:
            with open(os.path.join(base, name), errors="replace") as f:
                for line in f:
                    p = line.rstrip("\r\n")
                    # "# " opens the lists' comment lines; a lone "#" is a payload.
                    if p.strip() and not p.startswith("# ") and p not in seen:
                        seen.add(p)
                        yield cls, p.replace("{FILE}", "etc/passwd")


def sqlmap(root, rng):
    data = os.path.join(root, "usr/share/sqlmap/data/xml")
    bounds = [
        (b.findtext("prefix") or "", b.findtext("suffix") or "")
        for b in ET.parse(os.path.join(data, "boundaries.xml")).getroot().iter("boundary")
    ]
    num = lambda: str(rng.randint(1000, 9999))
    word = lambda: "".join(rng.choice("abcdefghij") for _ in range(4))
    fixed = {
        "SLEEPTIME": "5", "DELIMITER_START": "qvkzq", "DELIMITER_STOP": "qpjjq", "INFERENCE": "1=1",
        "GENERIC_SQL_COMMENT": "-- -", "ORIGVALUE": "1", "QUERY": "SELECT 1", "CHAR": "NULL",
        "COLSTART": "1", "COLSTOP": "3", "UNION": "NULL,NULL", "ORIGINAL": "1", "SPACE_REPLACE": " ",
    }

    def fill(match):
        key = match.group(1)
        if key.startswith("RANDNUM"):
            return num()
        if key.startswith("RANDSTR"):
            return word()
        return fixed.get(key, "1")

    seen = set()
    for path in sorted(glob.glob(os.path.join(data, "payloads/*.xml"))):
        for test in ET.parse(path).getroot().iter("test"):
            vector = test.findtext("request/payload")
            if not vector:
                continue
            for _ in range(3):
                prefix, suffix = rng.choice(bounds)
                p = re.sub(r"\[([A-Z_0-9]+)\]", fill, "1" + prefix + " " + vector + suffix)
                if p not in seen:
                    seen.add(p)
                    yield "sqlmap", p


def prose(limit):
    seen = set()
    paths = sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz")) + sorted(glob.glob("/usr/share/doc/*/copyright"))
    for path in paths:
        opener = gzip.open if path.endswith(".gz") else open
        try:
            with opener(path, "rt", errors="replace") as f:
                for i, line in enumerate(f):
                    if i >= 60:
                        break
                    text = line.strip()
                    if len(text) >= 8 and text not in seen:
                        seen.add(text)
                        yield "debian-prose", text
                        if len(seen) >= limit:
                            return
        except OSError:
            continue


def requests(cls, label, text, n):
    yield {
        "id": f"{cls}-{n}-q", "rule": 0, "class": cls, "label": label, "method": "GET",
        "uri": "/get?q=" + urllib.parse.quote(text, safe=""),
        "headers": {"Host": "localhost", "User-Agent": "waf-payloads"}, "body": None,
    }
    yield {
        "id": f"{cls}-{n}-j", "rule": 0, "class": cls + "-json", "label": label, "method": "POST",
        "uri": "/v1/ingest/demo",
        "headers": {"Host": "localhost", "User-Agent": "waf-payloads", "Content-Type": "application/json"},
        "body": json.dumps({"message": text}),
    }


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    wfuzz_root, sqlmap_root, out = sys.argv[1:4]
    benign = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
    rng = random.Random(3)
    n = 0
    with open(out, "w") as f:
        for label, source in (("attack", wfuzz(wfuzz_root)), ("attack", sqlmap(sqlmap_root, rng)), ("benign", prose(benign))):
            for cls, text in source:
                n += 1
                for rec in requests(cls, label, text, n):
                    f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
