#!/usr/bin/env python3
"""Builds the WAF evaluation corpus from inputs written by others, split
into a tuning part and a validation part, in the CRS corpus's format (one
JSON request per line) with two more fields: `source` and `part`.

Attacks (five sources):
- crs: the OWASP CRS regression corpus (../shared/corpora/waf), per class;
- wfuzz: the injection and traversal lists (Debian package `wfuzz`);
- sqlmap: payload templates behind random boundaries (Debian `sqlmap`);
- wapiti: XSS, blind SQL, command, file-handling and XXE payloads (Debian
  `wapiti`, data/attacks), placeholders filled as wapiti fills them;
- blns: the Big List of Naughty Strings' injection sections (npm
  `big-list-of-naughty-strings`).

Benign (four sources):
- github: real GitHub API traffic recorded by PyGithub's tests (PyPI sdist
  `PyGithub`, tests/ReplayData): request URLs with their query strings,
  JSON request bodies and JSON response bodies, as an API receives them;
- debian-prose: lines of the Debian changelogs and copyright files here;
- blns: the naughty strings' other sections (unicode, quotes, reserved
  words, numbers, emoji...), which filters should pass;
- crs: the CRS corpus's lines labelled benign (many are attacks some other
  rule must not match: see gateway/tests/waf_corpus.rs).

The split: each sample's part is fixed by SHA-256 over SPLIT_SEED, its
source and its text (for the CRS, its test id without the variant): half
tuning, half validation, the same on every machine and for every package
version that keeps the sample. Rules and thresholds may be changed by
looking at the tuning part only; figures are quoted from the validation
part.

    waf_corpora.py OUT.jsonl [--crs PATH] [--cache DIR] [--prose-lines N]

Downloads go to --cache (default ~/.cache/cartorio-waf-corpora) and are
reused.
"""
import argparse
import glob
import gzip
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

SPLIT_SEED = "cartorio-waf-split-1"
PYGITHUB = "PyGithub==2.5.0"
BLNS_URL = "https://registry.npmjs.org/big-list-of-naughty-strings/-/big-list-of-naughty-strings-1.0.0.tgz"
# Bodies beyond this are left out: ModSecurity's default in-memory limit is
# 128 KiB, and the comparison must read what both engines read.
MAX_BODY = 100_000


def part_of(source, key):
    digest = hashlib.sha256(f"{SPLIT_SEED}\0{source}\0{key}".encode("utf-8", "surrogateescape")).digest()
    return "tuning" if digest[0] < 128 else "validation"


# ---------------------------------------------------------------- fetching


def fetch_debs(cache, names):
    os.makedirs(cache, exist_ok=True)
    roots = {}
    for name in names:
        root = os.path.join(cache, name)
        if not os.path.isdir(root):
            debs = glob.glob(os.path.join(cache, f"{name}_*.deb"))
            if not debs:
                cmd = ["apt-get", "download", "-o", "APT::Sandbox::User=root", name]
                if subprocess.run(cmd, cwd=cache, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
                    sudo = [] if os.geteuid() == 0 else ["sudo"]
                    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True)
                    subprocess.run(cmd, cwd=cache, check=True, stdout=subprocess.DEVNULL)
                debs = glob.glob(os.path.join(cache, f"{name}_*.deb"))
            subprocess.run(["dpkg-deb", "-x", debs[0], root], check=True)
        roots[name] = root
    return roots


def fetch_pygithub(cache):
    root = os.path.join(cache, "pygithub")
    if not os.path.isdir(root):
        dl = os.path.join(cache, "pygithub-sdist")
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", dl, PYGITHUB]
        subprocess.run(pip, check=True)
        sdist = glob.glob(os.path.join(dl, "*.tar.gz"))[0]
        with tarfile.open(sdist) as t:
            members = [m for m in t.getmembers() if "/tests/ReplayData/" in m.name and m.isfile()]
            t.extractall(root, members=members, filter="data")
    return glob.glob(os.path.join(root, "*/tests/ReplayData/*.txt"))


def fetch_blns(cache):
    path = os.path.join(cache, "blns.txt")
    if not os.path.exists(path):
        tgz = os.path.join(cache, "blns.tgz")
        urllib.request.urlretrieve(BLNS_URL, tgz)
        with tarfile.open(tgz) as t:
            with open(path, "wb") as out:
                out.write(t.extractfile("package/blns.txt").read())
    return path


# ---------------------------------------------------------------- attacks

WFUZZ_LISTS = {
    "sqli": ["Injections/SQL.txt", "vulns/sql_inj.txt"],
    "xss": ["Injections/XSS.txt"],
    "xml": ["Injections/XML.txt"],
    "lfi": ["Injections/Traversal.txt", "vulns/dirTraversal.txt", "vulns/dirTraversal-nix.txt", "vulns/dirTraversal-win.txt"],
}


def wfuzz(root):
    base = os.path.join(root, "usr/share/wfuzz/wordlist")
    for cls, names in WFUZZ_LISTS.items():
        for name in names:
            with open(os.path.join(base, name), errors="replace") as f:
                for line in f:
                    p = line.rstrip("\r\n")
                    # "# " opens the lists' comment lines; a lone "#" is a payload.
                    if p.strip() and not p.startswith("# "):
                        yield cls, p.replace("{FILE}", "etc/passwd")


def sqlmap(root, rng):
    data = os.path.join(root, "usr/share/sqlmap/data/xml")
    bounds = [
        (b.findtext("prefix") or "", b.findtext("suffix") or "")
        for b in ET.parse(os.path.join(data, "boundaries.xml")).getroot().iter("boundary")
    ]
    fixed = {
        "SLEEPTIME": "5", "DELIMITER_START": "qvkzq", "DELIMITER_STOP": "qpjjq", "INFERENCE": "1=1",
        "GENERIC_SQL_COMMENT": "-- -", "ORIGVALUE": "1", "QUERY": "SELECT 1", "CHAR": "NULL",
        "COLSTART": "1", "COLSTOP": "3", "UNION": "NULL,NULL", "ORIGINAL": "1", "SPACE_REPLACE": " ",
    }

    def fill(match):
        key = match.group(1)
        if key.startswith("RANDNUM"):
            return str(rng.randint(1000, 9999))
        if key.startswith("RANDSTR"):
            return "".join(rng.choice("abcdefghij") for _ in range(4))
        return fixed.get(key, "1")

    for path in sorted(glob.glob(os.path.join(data, "payloads/*.xml"))):
        for test in ET.parse(path).getroot().iter("test"):
            vector = test.findtext("request/payload")
            if vector:
                for _ in range(3):
                    prefix, suffix = rng.choice(bounds)
                    yield "sqli", re.sub(r"\[([A-Z_0-9]+)\]", fill, "1" + prefix + " " + vector + suffix)


WAPITI_FILL = {
    "[VALUE]": "1", "[TIME]": "5", "[TIMEOUT]": "5", "[LF]": "\n", "[TAB]": "\t", "[FF]": "\f",
    "[EXTERNAL_ENDPOINT]": "http://wapiti3.ovh/", "[SESSION_ID]": "s1", "[PATH_ID]": "p1",
    "[PARAM_AS_HEX]": "71", "[FILE_NAME]": "index.php", "[DIRVALUE]": "1", "[EXTVALUE]": "1",
    "[VALUE_SEP]": "&", "[ATTR_SEP]": " ", "__XSS__": "w4p1t1x",
}


def wapiti_fill(p):
    for k, v in WAPITI_FILL.items():
        p = p.replace(k, v)
    return p.replace("\\0", "\0")


def ini_payloads(path):
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("payload = "):
                yield line[len("payload = "):].rstrip("\r\n")


def wapiti(root):
    data = glob.glob(os.path.join(root, "usr/lib/python3/dist-packages/wapitiCore/data/attacks"))[0]
    for p in ini_payloads(os.path.join(data, "xssPayloads.ini")):
        yield "xss", wapiti_fill(p)
    for p in ini_payloads(os.path.join(data, "fileHandlingPayloads.ini")):
        p = wapiti_fill(p)
        yield ("rfi" if re.match(r"(?i)(https?|ftp)://", p) else "lfi"), p
    for p in ini_payloads(os.path.join(data, "xxePayloads.ini")):
        yield "xxe", wapiti_fill(p)
    for name, cls in (("blindSQLPayloads.txt", "sqli"), ("execPayloads.txt", "rce")):
        with open(os.path.join(data, name), errors="replace") as f:
            for line in f:
                p = line.rstrip("\r\n")
                if p.strip():
                    yield cls, wapiti_fill(p)


BLNS_ATTACK_SECTIONS = {
    "Script Injection": "xss",
    "SQL Injection": "sqli",
    "Server Code Injection": "rce",
    "Command Injection (Ruby)": "rce",
    "XXE Injection (XML)": "xxe",
    "File Inclusion": "lfi",
}
# Sections that are neither attacks nor text a filter should pass as is
# (terminal escapes and crash strings are refused by validation, not by the
# WAF), or that name known vulnerabilities of mixed kinds.
BLNS_SKIPPED = {"Known CVEs and Vulnerabilities", "Terminal escape codes", "iOS Vulnerability"}


def blns(path):
    section = ""
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        if line.startswith("#"):
            # A section opens with its title, an empty comment line and a description.
            if i + 1 < len(lines) and lines[i + 1].strip() == "#" and line.lstrip("#").strip():
                section = line.lstrip("#").strip()
            continue
        if not line.strip() or section in BLNS_SKIPPED:
            continue
        cls = BLNS_ATTACK_SECTIONS.get(section)
        yield ("attack", cls) if cls else ("benign", "text"), line


# ---------------------------------------------------------------- benign


def prose(limit):
    n = 0
    paths = sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz")) + sorted(glob.glob("/usr/share/doc/*/copyright"))
    for path in paths:
        opener = gzip.open if path.endswith(".gz") else open
        try:
            with opener(path, "rt", errors="replace") as f:
                for i, line in enumerate(f):
                    if i >= 60:
                        break
                    text = line.strip()
                    if len(text) >= 8:
                        yield "text", text
                        n += 1
                        if n >= limit:
                            return
        except OSError:
            continue


def github(files):
    """(kind, uri or body) of every recorded exchange: method, host, path,
    headers, body, status, response headers, response body, blank."""
    for path in sorted(files):
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().split("\n")
        i = 0
        while i + 9 < len(lines):
            if lines[i] not in ("http", "https"):
                i += 1
                continue
            uri, body, response = lines[i + 4], lines[i + 6], lines[i + 9]
            if uri.startswith("/"):
                yield "url", uri
            for kind, doc in (("request-json", body), ("response-json", response)):
                if doc[:1] in ("{", "[") and len(doc) <= MAX_BODY:
                    try:
                        json.loads(doc)
                    except ValueError:
                        continue
                    yield kind, doc
            i += 10


# ---------------------------------------------------------------- requests

HEADERS = {"Host": "localhost", "User-Agent": "waf-corpora"}


def as_requests(source, cls, label, text, n):
    """A payload as a query argument and as a JSON string value; an XML
    document as an XML body too."""
    base = {"rule": 0, "label": label, "source": source, "part": part_of(source, text)}
    yield {**base, "id": f"{source}-{n}-q", "class": f"{source}/{cls}", "method": "GET",
           "uri": "/get?q=" + urllib.parse.quote(text, safe=""), "headers": HEADERS, "body": None}
    yield {**base, "id": f"{source}-{n}-j", "class": f"{source}/{cls}-json", "method": "POST",
           "uri": "/v1/ingest/demo", "headers": {**HEADERS, "Content-Type": "application/json"},
           "body": json.dumps({"message": text})}
    if text.lstrip().startswith("<?xml"):
        yield {**base, "id": f"{source}-{n}-x", "class": f"{source}/{cls}-xml", "method": "POST",
               "uri": "/v1/ingest/demo", "headers": {**HEADERS, "Content-Type": "application/xml"}, "body": text}


def github_requests(kind, text, n):
    base = {"rule": 0, "label": "benign", "source": "github", "part": part_of("github", text),
            "id": f"github-{n}", "class": f"github/{kind}"}
    if kind == "url":
        return {**base, "method": "GET", "uri": text, "headers": HEADERS, "body": None}
    return {**base, "method": "POST", "uri": "/v1/ingest/demo",
            "headers": {**HEADERS, "Content-Type": "application/json"}, "body": text}


def crs(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                test = rec["id"].rsplit("-", 1)[0]
                yield {**rec, "source": "crs", "class": "crs/" + rec["class"], "part": part_of("crs", test)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--crs", default=os.path.join(here, "../../shared/corpora/waf/crs-requests.jsonl"))
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/cartorio-waf-corpora"))
    ap.add_argument("--prose-lines", type=int, default=20000)
    args = ap.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    if not os.path.exists(args.crs):
        args.crs = "/work/shared/corpora/waf/crs-requests.jsonl"
    debs = fetch_debs(args.cache, ["wfuzz", "sqlmap", "wapiti"])
    rng = random.Random(3)
    texts = [("wfuzz", "attack", wfuzz(debs["wfuzz"])), ("sqlmap", "attack", sqlmap(debs["sqlmap"], rng)),
             ("wapiti", "attack", wapiti(debs["wapiti"])), ("debian-prose", "benign", prose(args.prose_lines))]
    blns_items = list(blns(fetch_blns(args.cache)))
    texts.append(("blns", "attack", ((c, t) for (l, c), t in blns_items if l == "attack")))
    texts.append(("blns", "benign", ((c, t) for (l, c), t in blns_items if l == "benign")))
    tmp = args.out + ".tmp"
    n = 0
    with open(tmp, "w") as out:
        for rec in crs(args.crs):
            out.write(json.dumps(rec) + "\n")
        for source, label, items in texts:
            seen = set()
            for cls, text in items:
                if (cls, text) in seen:
                    continue
                seen.add((cls, text))
                n += 1
                for rec in as_requests(source, cls, label, text, n):
                    out.write(json.dumps(rec) + "\n")
        seen = set()
        for kind, text in github(fetch_pygithub(args.cache)):
            if text not in seen:
                seen.add(text)
                n += 1
                out.write(json.dumps(github_requests(kind, text, n)) + "\n")
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
