#!/usr/bin/python3
"""Reference values for stats/window.c and stats/slo.c.

Generates per-minute traffic traces (fixed seeds) and computes, independently of the C code, the trailing window
sums, budgets, burn rates, alert states and first firing minutes, writing them to tests/fixtures/stats/slo_cases.txt.
Sums come from numpy cumulative sums; every ratio and every threshold comparison is done in exact rational
arithmetic (fractions.Fraction) and rounded once to a double for the file.

Run with Debian's interpreter (python3-numpy):  /usr/bin/python3 tests/reference/slo_reference.py
Output is deterministic: running it again must leave the fixture unchanged (git diff is empty).

File format (one record per line, space separated):
  case NAME TARGET_PPB PERIOD_MIN FIRST_MIN N     a trace of N minutes starting at wall-clock minute FIRST_MIN
  thr T0 T1 T2 T3                                 rule thresholds share x period / long window
  t TOTAL BAD                                     the next minute's counts (TOTAL >= 1)
  z COUNT                                         COUNT minutes without traffic
  at MINUTE PG PT BH BV AB {G T H V} x 7 R0 R1 R2 R3 PAGE TICKET
      evaluation at the end of MINUTE: period good/total, budget has-data/value, allowed bad, then for each
      window 5m 30m 1h 2h 6h 1d 3d: good, total, burn has-data, burn value; then the four rule states, page, ticket
  first R0 R1 R2 R3 PAGE TICKET                   first minute each condition held, -1 for never
  end
"""
import os
import sys
from fractions import Fraction

import numpy as np

WINDOWS = [5, 30, 60, 120, 360, 1440, 4320]
# (share of the budget in percent, long window index, short window index)
RULES = [(2, 2, 0), (5, 4, 1), (10, 5, 3), (10, 6, 4)]
PAGE_RULES, TICKET_RULES = (0, 1), (2, 3)
PPB = 10**9


def fmt(x):
    return repr(float(x))


def evaluate(ppb, period, ct, cb, i):
    """Everything the C report holds at trace index i (end of that minute)."""
    budget = 1 - Fraction(ppb, PPB)

    def window(w):
        lo = max(0, i + 1 - w)
        t = int(ct[i + 1] - ct[lo])
        b = int(cb[i + 1] - cb[lo])
        return t, b

    out = []
    pt, pb = window(period)
    out += [pt - pb, pt]
    if pt == 0:
        out += [0, "0.0"]
    else:
        out += [1, fmt(1 - Fraction(pb) / (budget * pt))]
    out.append(fmt(budget * pt))
    sums = []
    for w in WINDOWS:
        t, b = window(w)
        sums.append((t, b))
        if t == 0:
            out += [t - b, t, 0, "0.0"]
        else:
            out += [t - b, t, 1, fmt(Fraction(b, t) / budget)]
    states = []
    for share, lw, sw in RULES:
        thr = Fraction(share, 100) * period / WINDOWS[lw]

        def above(tb):
            t, b = tb
            return t > 0 and Fraction(b, t) / budget > thr

        states.append(1 if above(sums[lw]) and above(sums[sw]) else 0)
    states.append(1 if any(states[r] for r in PAGE_RULES) else 0)
    states.append(1 if any(states[r] for r in TICKET_RULES) else 0)
    return out, states


def write_case(f, name, ppb, period, first, total, bad):
    total = np.asarray(total, dtype=np.int64)
    bad = np.asarray(bad, dtype=np.int64)
    assert total.shape == bad.shape and (bad >= 0).all() and (bad <= total).all()
    n = len(total)
    ct = np.concatenate([[0], np.cumsum(total)])
    cb = np.concatenate([[0], np.cumsum(bad)])
    f.write(f"case {name} {ppb} {period} {first} {n}\n")
    f.write("thr " + " ".join(fmt(Fraction(s, 100) * period / WINDOWS[lw]) for s, lw, _ in RULES) + "\n")
    run = 0
    for t, b in zip(total.tolist(), bad.tolist()):
        if t == 0:
            run += 1
            continue
        if run:
            f.write(f"z {run}\n")
            run = 0
        f.write(f"t {t} {b}\n")
    if run:
        f.write(f"z {run}\n")

    firsts = [-1] * 6
    states_at = []
    for i in range(n):
        _, st = evaluate(ppb, period, ct, cb, i)
        states_at.append(st)
        for k in range(6):
            if firsts[k] < 0 and st[k]:
                firsts[k] = first + i
    checks = set(range(0, n, 97)) | {n - 1}
    for m in firsts:
        if m >= 0:
            checks |= {max(0, m - first - 1), m - first, min(n - 1, m - first + 1)}
    for i in sorted(checks):
        vals, st = evaluate(ppb, period, ct, cb, i)
        assert st == states_at[i]
        f.write(f"at {first + i} " + " ".join(str(v) for v in vals + st) + "\n")
    f.write("first " + " ".join(str(m) for m in firsts) + "\nend\n")


def diurnal(rng, n, mean, phase=0.0):
    i = np.arange(n)
    rate = mean * (1.0 + 0.5 * np.sin(2 * np.pi * (i + phase) / 1440.0))
    return rng.poisson(rate)


def with_incidents(rng, total, base_p, incidents):
    p = np.full(len(total), base_p)
    for start, length, q in incidents:
        p[start:start + length] = q
    return rng.binomial(total, p)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "stats")
    path = os.path.join(out_dir, "slo_cases.txt")
    with open(path, "w") as f:
        f.write("# Generated by tests/reference/slo_reference.py (numpy cumulative sums, exact fractions). "
                "Do not edit.\n")

        rng = np.random.default_rng(20240601)
        n = 6480
        total = diurnal(rng, n, 900)
        bad = with_incidents(rng, total, 0.0003,
                             [(1500, 25, 0.05), (3000, 200, 0.008), (4700, 500, 0.0025), (6200, 60, 0.2)])
        write_case(f, "steady_30d", 999000000, 43200, 29000017, total, bad)

        rng = np.random.default_rng(20240602)
        n = 7200
        total = diurnal(rng, n, 200, phase=300)
        total[2000:2300] = 0  # five hours without traffic
        total[4000:4010] = 0
        total[5500:5501] = 0
        bad = with_incidents(rng, total, 0.002,
                             [(1000, 90, 0.2), (2290, 40, 0.5), (3500, 600, 0.03), (6000, 1200, 0.012)])
        write_case(f, "incidents_28d", 995000000, 40320, 29100000, total, bad)

        rng = np.random.default_rng(20240603)
        n = 5760
        total = rng.poisson(0.3, n)
        bad = with_incidents(rng, total, 0.02, [(2000, 300, 0.5), (4000, 1000, 0.15)])
        write_case(f, "sparse_7d", 990000000, 10080, 29200000, total, bad)

        rng = np.random.default_rng(20240604)
        n = 2880
        total = diurnal(rng, n, 50)
        bad = with_incidents(rng, total, 0.0002, [(700, 30, 0.3), (1800, 400, 0.004)])
        write_case(f, "short_1d_from_minute_0", 999500000, 1440, 0, total, bad)

        rng = np.random.default_rng(20240605)
        n = 1440
        total = 10**12 + rng.integers(-10**9, 10**9, n)
        bad = rng.integers(0, 2 * 10**7, n)
        bad[600:660] = rng.integers(10**9, 2 * 10**9, 60)
        write_case(f, "huge_90d", 999990000, 129600, 29300000, total, bad)

        write_case(f, "all_zero", 999000000, 43200, 29400000, np.zeros(600, np.int64), np.zeros(600, np.int64))
        write_case(f, "one_minute", 999000000, 43200, 29500000, [5], [1])

        # burn exactly on thresholds: 0.1% bad (burn 1, the 30-day ticket_3d threshold) for three days, then
        # exactly 14.4 (the page_1h threshold) for two hours, then one request more per minute
        n = 4320 + 120 + 60
        total = np.full(n, 10000)
        bad = np.full(n, 10)
        bad[4320:4440] = 144
        bad[4440:] = 145
        write_case(f, "exact_thresholds_30d", 999000000, 43200, 29600000, total, bad)


if __name__ == "__main__":
    main()
