#!/usr/bin/env python3
"""Attacks padded with sentences: an evasion that turns a value into prose,
which the WAF reads more leniently (no `Short` rules, code spans and quoted
terms set aside). From a corpus in the format of `waf_corpora.py`, each
tuning-part attack sent as a single query argument is written four times:
the sentence before and after it, as that query argument and as the same
field of a JSON body. Compare a build's verdicts with the unpadded ones:

    python3 benches/waf_padded.py target/waf-compare/corpus.jsonl > padded.jsonl
    bash benches/waf_compare.sh HEAD padded.jsonl
"""
import json
import sys
import urllib.parse

PAD = ("Please see the notes below about the release and tell us what you think "
       "of the changes we made to the build system for this week and the next one")


def padded(r):
    path, query = r["uri"].split("?", 1)
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    if len(pairs) != 1:
        return
    name, value = pairs[0]
    for where, v in (("pre", f"{PAD} {value}"), ("post", f"{value} {PAD}")):
        yield {**r, "id": f"{r['id']}-{where}-q", "part": "-", "uri": path + "?" + urllib.parse.urlencode({name: v})}
        yield {**r, "id": f"{r['id']}-{where}-j", "part": "-", "method": "POST", "uri": "/v1/ingest/demo",
               "headers": {**r["headers"], "Content-Type": "application/json"}, "body": json.dumps({name: v})}


def main():
    for line in open(sys.argv[1], encoding="utf-8"):
        r = json.loads(line)
        if r["part"] == "tuning" and r["label"] == "attack" and r["method"] == "GET" and "?" in r["uri"]:
            for p in padded(r):
                print(json.dumps(p))


if __name__ == "__main__":
    main()
