#!/usr/bin/python3
"""Reference values for the canary statistics of stats/canary_tail.c and stats/canary_seq.c, computed with
scipy and with exact rational arithmetic, independently of the C code.

Writes tests/fixtures/stats/canary.json. Running the script again rewrites an identical file:

    /usr/bin/python3 tests/reference/canary_reference.py

- binomial tails (scipy.stats.binom.sf / cdf), the two-sided exact binomial test (scipy.stats.binomtest), and the
  hypergeometric upper tail (scipy.stats.hypergeom.sf) on a table of arguments from the body to the far tails;
- the sequential sample-ratio test: log of the beta-binomial mixture ratio (scipy.special.betaln);
- the expected evidence of the error-rate test under given rates after the scripted batches, batch by batch, and the
  first of identical batches after which the test has had the power to see the configured regression;
- the sequential error-rate test: scripted batches (errors and requests of both versions) and, after each, the
  log mixture likelihood ratio and the always-valid p-value, computed here with mpmath-free exact logs of
  Fractions: each grid term's likelihood ratio is the rational (g^e_t / (1 + w (g - 1))^E), its log taken once.
"""
import json
import math
import os
from fractions import Fraction

import scipy
import scipy.special as sp
import scipy.stats as st

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "stats", "canary.json")

GRID = [Fraction(3, 2), Fraction(2), Fraction(3), Fraction(4), Fraction(6), Fraction(8), Fraction(16), Fraction(64)]
WEIGHTS = [Fraction(1, 12), Fraction(1, 12), Fraction(1, 6), Fraction(1, 6), Fraction(1, 6), Fraction(1, 6),
           Fraction(1, 12), Fraction(1, 12)]


def log_mix(log_lr):
    """log of sum_k v_k exp(log LR_k), around the largest term."""
    terms = [l + math.log(w) for l, w in zip(log_lr, WEIGHTS)]
    m = max(terms)
    return m + math.log(sum(math.exp(t - m) for t in terms))


def log_fraction(q):
    """log of a positive Fraction without overflow: scale numerator and denominator to floats."""
    n, d = q.numerator, q.denominator
    return (math.log(n) if n.bit_length() < 1000 else n.bit_length() * math.log(2) + math.log(n / (1 << n.bit_length()))) - \
        (math.log(d) if d.bit_length() < 1000 else d.bit_length() * math.log(2) + math.log(d / (1 << d.bit_length())))


def seq_case(name, min_ratio, alpha, batches):
    """batches: list of (e_t, n_t, e_c, n_c). A batch without requests on one version is pooled with the next ones
    until both versions have had requests. Returns the case with expected figures after each batch."""
    r0 = Fraction(min_ratio).limit_denominator(1000)
    log_lr = [0.0] * len(GRID)
    steps, best, applied = [], 0.0, False
    pend = [0, 0, 0, 0]
    for b in batches:
        pend = [p + x for p, x in zip(pend, b)]
        et, nt, ec, nc = pend
        if nt and nc:
            pend = [0, 0, 0, 0]
            w = (nt * r0) / (nt * r0 + nc)
            e = et + ec
            for k, g in enumerate(GRID):
                if e:
                    log_lr[k] += log_fraction(g ** et / (1 + w * (g - 1)) ** e)
            applied = True
            best = max(best, log_mix(log_lr))
        if applied:
            lam = log_mix(log_lr)
        else:
            lam = 0.0
        p = math.exp(-best) if best > 0 else 1.0
        steps.append({"log_lambda": lam, "p": p, "reject": p <= alpha})
    return {"name": name, "min_ratio": min_ratio, "alpha": alpha, "batches": batches, "expected": steps,
            "evidence": [[pt, pc, expected_evidence(min_ratio, batches, pt, pc)]
                         for (pt, pc) in [(0.01, 0.002), (0.005, 0.0), (0.3, 0.05), (0.002, 0.002)]]}


def applied_batches(batches):
    """The batches the test applies: one-sided ones pooled with the next until both versions had requests."""
    out, pend = [], [0, 0, 0, 0]
    for b in batches:
        pend = [p + x for p, x in zip(pend, b)]
        if pend[1] and pend[3]:
            out.append(pend)
            pend = [0, 0, 0, 0]
    return out


def expected_evidence(min_ratio, batches, pt, pc):
    """max over the grid of E[log LR_k] + log v_k over the applied batches, batch by batch: in each, E[e_t] = n_t p_t and
    E[E] = n_t p_t + n_c p_c, so E[log LR_k] = n_t p_t log g_k - (n_t p_t + n_c p_c) log(1 + w (g_k - 1))."""
    r0 = Fraction(min_ratio).limit_denominator(1000)
    best = -math.inf
    for g, v in zip(GRID, WEIGHTS):
        total = math.log(v)
        for (_, nt, _, nc) in applied_batches(batches):
            w = (nt * r0) / (nt * r0 + nc)
            total += nt * pt * math.log(g) - (nt * pt + nc * pc) * log_fraction(1 + w * (g - 1))
        best = max(best, total)
    return best


def power_case(min_ratio, alpha, detect_ratio, detect_increase, batch, max_batches):
    """Identical batches (e_t, n_t, e_c, n_c): the first batch (1-based) after which the test has had the power to see
    a canary failing at max(detect_ratio p_c, p_c + detect_increase), p_c the stable's observed rate."""
    for b in range(1, max_batches + 1):
        pc = batch[2] / batch[3]
        pt = min(1.0, max(detect_ratio * pc, pc + detect_increase))
        if expected_evidence(min_ratio, [batch] * b, pt, pc) >= -math.log(alpha):
            return {"min_ratio": min_ratio, "alpha": alpha, "detect_ratio": detect_ratio,
                    "detect_increase": detect_increase, "batch": batch, "first": b}
    raise ValueError("no crossing")


def main():
    binom = []
    for (x, n, p) in [(0, 10, 0.3), (3, 10, 0.3), (7, 10, 0.3), (10, 10, 0.3), (5, 1000, 0.002), (12, 1000, 0.002),
                      (40, 1000, 0.002), (0, 1000, 0.002), (60, 1000, 0.05), (30, 1000, 0.05), (75, 1000, 0.05),
                      (500, 1000, 0.5), (560, 1000, 0.5), (52000, 1000000, 0.05), (48900, 1000000, 0.05),
                      (50000, 1000000, 0.05), (250, 300, 0.5), (1, 20, 0.5), (19, 20, 0.5), (1234, 25000, 0.05)]:
        binom.append({"x": x, "n": n, "p": p, "sf": float(st.binom.sf(x - 1, n, p)) if x > 0 else 1.0,
                      "cdf": float(st.binom.cdf(x, n, p)), "test": float(st.binomtest(x, n, p).pvalue)})
    hyper = []
    for (x, total, good, draws) in [(0, 50, 10, 5), (1, 50, 10, 5), (3, 50, 10, 5), (5, 50, 10, 5), (6, 50, 10, 5),
                                    (2, 1200, 12, 200), (5, 1200, 12, 200), (12, 1200, 12, 200), (9, 1200, 12, 200),
                                    (30, 2000, 40, 1000), (35, 2000, 40, 1000), (15, 2000, 40, 1000),
                                    (14, 1214, 24, 214), (1, 1214, 24, 214), (150, 3000, 180, 500),
                                    (60, 100, 80, 70), (51, 100, 80, 70), (61, 100, 80, 70)]:
        hyper.append({"x": x, "total": total, "good": good, "draws": draws,
                      "sf": float(st.hypergeom.sf(x - 1, total, good, draws)) if x > 0 else 1.0})
    seq = [
        seq_case("aa_small", 1.0, 0.001, [(0, 5, 1, 95), (1, 6, 2, 94), (0, 4, 0, 96), (0, 5, 3, 95), (1, 5, 0, 95)]),
        seq_case("hard_failure", 1.0, 0.001, [(1, 1, 0, 19), (0, 1, 0, 19), (1, 1, 0, 19), (1, 1, 0, 19),
                                              (0, 1, 0, 19), (1, 1, 0, 19), (1, 1, 0, 19), (1, 1, 0, 19)]),
        seq_case("margin", 1.5, 0.0005, [(2, 100, 10, 900), (3, 100, 9, 900), (4, 100, 10, 900), (6, 100, 8, 900)]),
        seq_case("gaps", 1.0, 0.01, [(0, 0, 3, 100), (2, 10, 0, 0), (3, 10, 1, 90), (0, 0, 0, 0), (4, 20, 2, 80)]),
        seq_case("one_sided_ticks", 1.0, 0.001, [(1, 1, 0, 0), (0, 0, 0, 3), (0, 1, 0, 0), (1, 1, 0, 0), (0, 0, 1, 19),
                                                 (1, 1, 0, 0), (1, 1, 0, 0), (0, 0, 0, 38), (1, 2, 0, 0)]),
        seq_case("weights_change", 1.0, 0.001, [(0, 50, 2, 950), (2, 100, 1, 900), (5, 250, 4, 750),
                                                (12, 500, 5, 500), (9, 500, 6, 500)]),
        seq_case("overwhelming", 1.0, 0.001, [(300, 500, 1, 500), (400, 500, 0, 500), (450, 500, 2, 500)]),
    ]
    srm = []
    for (x, n, w, c) in [(0, 1, 0.05, 100.0), (1, 1, 0.05, 100.0), (50, 1000, 0.05, 100.0), (100, 1000, 0.05, 100.0),
                         (70, 1000, 0.05, 100.0), (5200, 100000, 0.05, 100.0), (480, 1000, 0.5, 100.0),
                         (600, 1000, 0.5, 100.0), (3, 10, 0.25, 10.0), (26000, 100000, 0.25, 1000.0)]:
        a, b = c * w, c * (1 - w)
        val = sp.betaln(a + x, b + n - x) - sp.betaln(a, b) - x * math.log(w) - (n - x) * math.log1p(-w)
        srm.append({"x": x, "n": n, "w": w, "c": c, "log_lambda": float(val)})
    power = [power_case(1.1, 0.004, 5, 0.005, (0, 5, 1, 495), 5000),
             power_case(1.1, 0.004, 5, 0.005, (0, 50, 0, 950), 5000),
             power_case(1.0, 0.001, 3, 0.0, (0, 10, 2, 90), 5000)]
    out = {"scipy": scipy.__version__, "binom": binom, "hypergeom": hyper, "seq": seq, "srm": srm, "power": power}
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
