#!/usr/bin/env python3
"""Verdict changes between two `waf-corpus` outputs of the same file.

Prints attacks blocked and benign inputs passed before and after, per part
and class where a figure moved, then each request of a non-validation part
whose verdict changed. Lines of the validation part are counted only: rules
are changed by looking at the tuning part (issue 18's method).

    waf_compare.py BEFORE AFTER
"""

import collections
import sys


def verdicts(path):
    """id -> (class, label, blocked, rules, part) from waf-corpus's lines."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) == 7:
                ident, cls, label, blocked, _score, rules, part = fields
                out[ident] = (cls, label, blocked == "1", rules, part)
    return out


def rate(label, blocked, total):
    kept = blocked if label == "attack" else total - blocked
    return f"{100 * kept / total:6.2f}%" if total else "     -"


def main():
    before, after = verdicts(sys.argv[1]), verdicts(sys.argv[2])
    counts = collections.defaultdict(lambda: [0, 0, 0])
    changed = []
    for ident, (cls, label, was, rules, part) in before.items():
        now = after.get(ident)
        if now is None:
            continue
        for key in ((part, label, "all"), (part, label, cls)):
            c = counts[key]
            c[0] += 1
            c[1] += was
            c[2] += now[2]
        if was != now[2]:
            changed.append((part, ident, cls, label, rules, now[3], now[2]))
    print(f"{'part':11} {'label':7} {'class':22} {'n':>6} {'before':>8} {'after':>8}")
    for (part, label, cls), (n, was, now) in sorted(counts.items()):
        if cls == "all" or was != now:
            print(f"{part:11} {label:7} {cls:22} {n:6} {rate(label, was, n)} {rate(label, now, n)}")
    hidden = sum(1 for c in changed if c[0] == "validation")
    for part, ident, cls, label, old, new, now in changed:
        if part != "validation":
            mark = ("caught" if now else "MISSED") if label == "attack" else ("FALSE POSITIVE" if now else "passed")
            print(f"  {mark:14} {ident} {cls} {old} -> {new}")
    print(f"{len(changed)} verdicts changed ({hidden} in the validation part, not listed)")


if __name__ == "__main__":
    main()
