#!/usr/bin/python3
"""Reference values for stats/hist.c and stats/hist_ring.c.

Generates latency samples in integer microseconds (fixed seeds) and writes, for each sample set, numpy's exact
quantiles (method="inverted_cdf": the value of rank ceil(q n), Hyndman and Fan type 1), the exact count of values
at most each Prometheus bound, the count, sum, min and max; and for a stream of per-tick samples, the exact
quantiles over a sliding window of ticks. The C histogram must report quantiles within its relative error bound of
these values and the Prometheus counts exactly.

The Prometheus bounds are derived here from their definition (the bucket edge m x 2^s, 33 <= m <= 64, nearest to
each value of a 1 ms .. 10 min ladder, ties to the smaller) and written to the file, so the C table is checked too.

Run with Debian's interpreter (python3-numpy):  /usr/bin/python3 tests/reference/hist_reference.py
Output is deterministic: running it again must leave the fixture unchanged.

File format:
  bounds B0 .. B23                  Prometheus bounds in microseconds
  case NAME                         a sample set:
  v X X X ...                         values (microseconds)
  w X COUNT                           COUNT occurrences of X
  stats COUNT SUM MIN MAX             SUM modulo 2^64; MIN/MAX of an empty set are 18446744073709551615 0
  q Q TRUE                            q-quantile, or "none" for an empty set
  prom C0 .. C23                      values <= each bound
  end
  ring NAME NUM_TICKS               a tick stream:
  tick T X X ...                      samples of tick T (ticks ascend, some are skipped)
  query T Q TRUE                      after advancing to tick T, the q-quantile over ticks (T - NUM_TICKS, T]
  end
"""
import math
import os
import sys

import numpy as np

LADDER_MS = [1, 2.5, 5, 10, 25, 50, 100, 150, 250, 400, 600, 1000, 1500, 2500, 4000, 6000, 10000, 15000, 25000,
             40000, 60000, 120000, 300000, 600000]
QS = [0.0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0]
U64 = 2**64


def bucket_edges():
    return sorted({m << s for s in range(1, 27) for m in range(33, 65)})


def prom_bounds():
    edges = bucket_edges()
    out = []
    for ms in LADDER_MS:
        t = ms * 1000
        out.append(min(edges, key=lambda e: (abs(e - t), e)))
    return out


def quantile(sorted_vals, q):
    """numpy's inverted_cdf, cross-checked against the textbook rank ceil(q n)."""
    n = len(sorted_vals)
    v = int(np.quantile(sorted_vals, q, method="inverted_cdf"))
    rank = max(1, min(n, math.ceil(q * n)))
    assert v == int(sorted_vals[rank - 1]), (q, n)
    return v


def weighted_quantile(values, counts, q):
    order = np.argsort(values)
    values, counts = np.asarray(values)[order], np.asarray(counts)[order]
    cum = np.cumsum(counts)
    n = int(cum[-1])
    rank = max(1, min(n, math.ceil(q * n)))
    return int(values[np.searchsorted(cum, rank)])


def write_case(f, name, bounds, values=None, weighted=None):
    f.write(f"case {name}\n")
    if weighted is not None:
        vals = np.array([v for v, _ in weighted], dtype=np.uint64)
        counts = np.array([c for _, c in weighted], dtype=np.uint64)
        for v, c in weighted:
            f.write(f"w {v} {c}\n")
        n = int(counts.sum())
        total = sum(int(v) * int(c) for v, c in weighted) % U64
        qs = {q: weighted_quantile(vals, counts, q) for q in QS}
        prom = [int(counts[vals <= b].sum()) for b in bounds]
        mn, mx = int(vals.min()), int(vals.max())
    else:
        vals = np.asarray(values, dtype=np.uint64)
        for i in range(0, len(vals), 16):
            f.write("v " + " ".join(str(int(x)) for x in vals[i:i + 16]) + "\n")
        n = len(vals)
        total = sum(int(x) for x in vals) % U64
        s = np.sort(vals)
        qs = {q: quantile(s, q) for q in QS} if n else {q: None for q in QS}
        prom = [int(np.count_nonzero(vals <= b)) for b in bounds]
        mn, mx = (int(s[0]), int(s[-1])) if n else (U64 - 1, 0)
    f.write(f"stats {n} {total} {mn} {mx}\n")
    for q in QS:
        f.write(f"q {q!r} {'none' if qs[q] is None else qs[q]}\n")
    f.write("prom " + " ".join(str(c) for c in prom) + "\nend\n")


def write_ring(f, rng, name, num_ticks):
    f.write(f"ring {name} {num_ticks}\n")
    ticks = {}
    t = 1000
    for _ in range(160):
        r = rng.random()
        t += 1 if r < 0.8 else (int(rng.integers(2, 10)) if r < 0.97 else num_ticks + 5)
        k = int(rng.integers(0, 40))
        scale = 200_000 if t < 1150 else 2_000_000  # a latency regression half way
        ticks[t] = np.round(rng.lognormal(np.log(scale), 0.8, k)).astype(np.uint64)
    order = sorted(ticks)
    last = 0
    for i, t in enumerate(order):
        f.write(f"tick {t} " + " ".join(str(int(x)) for x in ticks[t]) + "\n")
        last = t
        if rng.random() < 0.4:
            # query at t or later, but before the next tick: time never goes back
            gap = order[i + 1] - t if i + 1 < len(order) else num_ticks + 3
            q_at = t + int(rng.integers(0, gap))
            inside = [ticks[u] for u in order[:i + 1] if q_at - num_ticks < u]
            vals = np.sort(np.concatenate(inside)) if inside else np.array([], dtype=np.uint64)
            for q in (0.5, 0.99):
                f.write(f"query {q_at} {q!r} {quantile(vals, q) if len(vals) else 'none'}\n")
    assert last > 0
    f.write("end\n")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "stats")
    bounds = prom_bounds()
    with open(os.path.join(out_dir, "hist_cases.txt"), "w") as f:
        f.write("# Generated by tests/reference/hist_reference.py (numpy inverted_cdf quantiles). Do not edit.\n")
        f.write("bounds " + " ".join(str(b) for b in bounds) + "\n")
        rng = np.random.default_rng(7001)
        write_case(f, "lognormal_llm", bounds, np.round(rng.lognormal(np.log(800_000), 1.0, 4000)))
        write_case(f, "small_exact_region", bounds, rng.integers(0, 200, 1500))
        write_case(f, "bimodal_cache_and_generation", bounds,
                   np.concatenate([np.round(rng.normal(50, 8, 1200)).clip(0), np.round(rng.lognormal(np.log(5e6), 0.3, 800))]))
        write_case(f, "constant", bounds, np.full(1000, 1234567))
        write_case(f, "single", bounds, [777])
        write_case(f, "empty", bounds, [])
        ties = [b + d for b in bounds for d in (-1, 0, 0, 1)]
        write_case(f, "ties_at_prometheus_edges", bounds, ties * 3)
        write_case(f, "log_uniform_1us_to_1h", bounds, np.round(np.exp(rng.uniform(0, np.log(3.6e9), 3000))))
        write_case(f, "beyond_range_clamped", bounds,
                   np.concatenate([rng.integers(1, 3_600_000_000, 300), rng.integers(2**32, 2**33, 30)]))
        write_case(f, "huge_counts", bounds,
                   weighted=[(1000, 10**12), (250_000, 3 * 10**12), (2_000_000, 10**11), (30_000_000, 10**9), (7, 5)])
        write_ring(f, np.random.default_rng(7002), "window_30_ticks", 30)


if __name__ == "__main__":
    main()
