#!/usr/bin/env python3
"""Sums test cases over meson's log: Criterion's "Synthesis" lines, pytest's closing line, and one case for any
other test. Prints "N passed, N failed" (", N skipped" when some were skipped)."""
import json
import re
import sys

passed = failed = skipped = 0
with open(sys.argv[1]) as f:
    for line in f:
        t = json.loads(line)
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        ok = t.get("result") in ("OK", "EXPECTEDFAIL")
        crit = re.findall(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)", out)
        py = re.findall(r"=+ (.*) in [\d.]+s", out)
        if crit:
            _, p, fl, cr = map(int, crit[-1])
            passed += p
            failed += fl + cr
            if not ok and fl + cr == 0:
                failed += 1
        elif py:
            counts = dict((k, int(v)) for v, k in re.findall(r"(\d+) (\w+)", py[-1]))
            passed += counts.get("passed", 0)
            failed += counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
            skipped += counts.get("skipped", 0)
            if not ok and counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0) == 0:
                failed += 1
        elif t.get("result") == "SKIP":
            skipped += 1
        elif ok:
            passed += 1
        else:
            failed += 1
tail = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{tail}")
