#!/usr/bin/python3
"""Reference values for the statistical tests of stats/ (special functions, Mann-Whitney U, two-sample
Kolmogorov-Smirnov, chi-square, mSPRT), computed with scipy/numpy from Debian's python3 packages.

Writes tests/fixtures/stats/{special,mwu,ks,chisq,msprt}.json. Every random input comes from a fixed seed, so
running the script again rewrites identical files:

    /usr/bin/python3 tests/reference/tests_reference.py

Large samples are not stored: a fixture names a splitmix64 seed and the C test regenerates the values bit for
bit (gen_values below; the same generator is sl_reservoir_splitmix64 in stats/reservoir.c).
"""
import json
import math
import os
import sys
from fractions import Fraction

import numpy as np
import scipy
import scipy.special as sp
import scipy.stats as st

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "stats")
MASK = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def gen_values(seed, n, scale, shift):
    """n values u * scale + shift, u = (splitmix64 >> 11) * 2^-53 uniform on [0, 1): exact in C and Python."""
    out, s = [], seed
    for _ in range(n):
        s, z = splitmix64(s)
        u = (z >> 11) * (1.0 / 9007199254740992.0)
        out.append(u * scale + shift)
    return out


def dump(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print(f"{path}: {os.path.getsize(path)} bytes")


def rounded(a, digits):
    return [round(float(v), digits) for v in a]


# ---------------------------------------------------------------------------------------------- special functions
def special():
    norm = []
    for z in list(np.linspace(-40, 40, 81)) + [-8.5, -1e-3, 0.0, 1e-3, 0.5, 1.959963984540054, 5.5, 9.3, 26.5,
                                              37.0, 37.5, 38.0, -37.5]:
        z = float(z)
        norm.append([z, float(st.norm.cdf(z)), float(st.norm.sf(z))])
    chi2 = []
    for dof in [1, 2, 3, 4, 5, 7.5, 10, 30, 50.5, 100, 999, 1000, 12345, 100000, 1000000]:
        mean, sd = dof, math.sqrt(2 * dof)
        for x in [1e-6, 0.01, 0.5, 1, mean - 2 * sd, mean - sd, mean - 0.5, mean, mean + 0.7, mean + sd,
                  mean + 3 * sd, mean + 10 * sd, mean + 40 * sd, 3 * mean + 200, 10 * mean + 1400]:
            if x <= 0:
                continue
            p = float(st.chi2.sf(x, dof))
            chi2.append([float(x), float(dof), p])
    # tails near 1e-300
    for dof, x in [(1, 1374.0), (1, 1380.5), (2, 1380.0), (10, 1400.0), (3, 1000.0), (100, 1550.0)]:
        chi2.append([float(x), float(dof), float(st.chi2.sf(x, dof))])
    gamma = []
    for a in [0.5, 1, 1.5, 2.5, 10, 33.3, 200, 5000]:
        for x in [0.001, 0.1, 0.5 * a, a - 1, a, a + 1, 1.5 * a + 2, 3 * a + 30]:
            if x <= 0:
                continue
            gamma.append([float(a), float(x), float(sp.gammainc(a, x)), float(sp.gammaincc(a, x))])
    kolm = [[float(y), float(sp.kolmogorov(y))] for y in
            [0.0, 0.03, 0.05, 0.1, 0.3, 0.5, 0.8, 0.82, 0.83, 1.0, 1.36, 1.63, 2.0, 3.0, 5.0, 8.0, 20.0]]
    smir = []
    for n in [1, 2, 3, 5, 10, 33, 100, 140, 1000, 12345, 100000, 1000000, 2000000]:
        for d in [0.0, 0.5 / n, 1.0 / n, 1.5 / n, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1 - 1.0 / n, 0.999, 1.0]:
            if 0 <= d <= 1:
                smir.append([n, float(d), float(sp.smirnov(n, d))])
    kstwo = []
    for n in [1, 2, 3, 5, 10, 40, 100, 140, 141, 400, 1000, 5000, 20000, 100000, 100001, 300000, 2000000]:
        ds = {0.3 / n, 0.5 / n, 0.75 / n, 1.0 / n, 1.5 / n, 1 - 1.5 / n, 1 - 0.5 / n, 0.5, 0.6, 0.9}
        for nxx in [0.05, 0.2, 0.5, 0.754, 0.76, 1.0, 1.5, 2.0, 2.19, 2.21, 3.0, 4.0, 4.1, 10, 18, 50, 200, 369, 371]:
            ds.add(math.sqrt(nxx / n))
        for d in sorted(ds):
            if 0 < d < 1:
                kstwo.append([n, float(d), float(st.kstwo.sf(d, n))])
    dump("special.json", {"scipy": scipy.__version__, "norm": norm, "chi2_sf": chi2, "gamma": gamma,
                          "kolmogorov_sf": kolm, "smirnov_sf": smir, "kstwo_sf": kstwo})


# ------------------------------------------------------------------------------------------------- Mann-Whitney U
def mwu_case(x, y, name, gen=None):
    r = st.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic", use_continuity=True)
    case = {"name": name, "u": float(r.statistic), "p": float(r.pvalue),
            "ps": float(r.statistic) / (len(x) * len(y))}
    if gen is None:
        case["x"], case["y"] = [float(v) for v in x], [float(v) for v in y]
    else:
        case["gen"] = gen
    return case


def mwu():
    rng = np.random.default_rng(20240701)
    cases = []
    for i, (n1, n2, shift) in enumerate([(5, 7, 0.0), (20, 20, 0.3), (31, 17, 1.0), (60, 45, 0.1), (9, 9, 0.0),
                                         (100, 3, 0.5), (150, 140, 0.25)]):
        x = rounded(rng.normal(0, 1, n1), 4)
        y = rounded(rng.normal(shift, 1, n2), 4)
        cases.append(mwu_case(x, y, f"normal{i}"))
    for i, (n1, n2) in enumerate([(30, 40), (8, 12), (200, 150)]):  # heavy ties: small integers
        x = [float(v) for v in rng.integers(0, 5, n1)]
        y = [float(v) for v in rng.integers(1, 6, n2)]
        cases.append(mwu_case(x, y, f"ties{i}"))
    cases.append(mwu_case([1.0], [2.0], "one_each"))
    cases.append(mwu_case([3.0], [1.0, 2.0, 4.0, 5.0], "one_vs_four"))
    cases.append(mwu_case([2.0, 2.0], [2.0, 2.0, 2.0], "all_tied"))
    cases.append(mwu_case([1.0, 1.0, 2.0], [1.0, 2.0, 2.0], "mirror"))
    m = 913  # complete separation: z ~ 37, p ~ 1e-300
    cases.append(mwu_case([float(i) for i in range(m)], [float(i) for i in range(m, 2 * m)], "separated_913"))
    m = 900
    cases.append(mwu_case([float(i) for i in range(m)], [float(i) for i in range(m, 2 * m)], "separated_900"))
    # large generated samples: latencies, canary 3% slower
    for seed, n1, n2, scale2 in [(11, 4000, 6000, 1.03), (12, 20000, 20000, 1.0), (13, 50000, 800, 1.2)]:
        x = gen_values(seed, n1, 100.0, 50.0)
        y = gen_values(seed + 1000, n2, 100.0 * scale2, 50.0)
        cases.append(mwu_case(x, y, f"gen{seed}", {"seed_x": seed, "n_x": n1, "scale_x": 100.0, "shift_x": 50.0,
                                                     "seed_y": seed + 1000, "n_y": n2, "scale_y": 100.0 * scale2,
                                                     "shift_y": 50.0}))
    dump("mwu.json", {"scipy": scipy.__version__, "cases": cases})


# ------------------------------------------------------------------------------------------- Kolmogorov-Smirnov
def exact_ks_sf(m, n, h):
    """P(D >= h/lcm) by integer path counting (exact rational), paths (0,0)->(m,n) staying strictly inside."""
    g = math.gcd(m, n)
    mg, ng = m // g, n // g
    inside = lambda i, j: abs(i * ng - j * mg) < h
    col = [0] * (n + 1)
    for j in range(n + 1):
        col[j] = 1 if inside(0, j) and (j == 0 or col[j - 1]) else 0
    for i in range(1, m + 1):
        new = [0] * (n + 1)
        for j in range(n + 1):
            if inside(i, j):
                new[j] = col[j] + (new[j - 1] if j else 0)
        col = new
    return float(1 - Fraction(col[n], math.comb(m + n, n)))


def ks_case(x, y, name, gen=None, exact=True):
    r = st.ks_2samp(x, y, method="auto")
    n1, n2 = len(x), len(y)
    case = {"name": name, "d": float(r.statistic), "p": float(r.pvalue),
            "method": "exact" if max(n1, n2) <= 10000 else "asymp"}
    if gen is None:
        case["x"], case["y"] = [float(v) for v in x], [float(v) for v in y]
    else:
        case["gen"] = gen
    if exact and max(n1, n2) <= 10000 and n1 * n2 <= 40000:
        g = math.gcd(n1, n2)
        h = round(float(r.statistic) * (n1 // g) * n2)
        case["p_exact"] = exact_ks_sf(n1, n2, h)
    return case


def ks():
    rng = np.random.default_rng(20240702)
    cases = []
    for i, (n1, n2, shift) in enumerate([(5, 7, 0.0), (20, 20, 0.5), (31, 17, 1.0), (60, 45, 0.2), (9, 9, 2.0),
                                         (100, 3, 0.5), (150, 140, 0.25), (64, 48, 0.6), (200, 199, 0.1),
                                         (120, 80, 1.5), (40, 160, 0.9)]):
        x = rounded(rng.normal(0, 1, n1), 4)
        y = rounded(rng.normal(shift, 1, n2), 4)
        cases.append(ks_case(x, y, f"normal{i}"))
    for i, (n1, n2) in enumerate([(30, 40), (12, 12), (100, 150)]):
        x = [float(v) for v in rng.integers(0, 5, n1)]
        y = [float(v) for v in rng.integers(1, 6, n2)]
        cases.append(ks_case(x, y, f"ties{i}"))
    cases.append(ks_case([1.0], [2.0], "one_each"))
    cases.append(ks_case([3.0], [1.0, 2.0, 4.0, 5.0], "one_vs_four"))
    cases.append(ks_case([2.0, 2.0], [2.0, 2.0, 2.0], "all_tied"))
    cases.append(ks_case([float(i) for i in range(50)], [float(i) for i in range(50)], "identical"))
    cases.append(ks_case([float(i) for i in range(150)], [float(i) for i in range(150, 300)], "separated_eq"))
    cases.append(ks_case([float(i) for i in range(130)], [float(i) for i in range(130, 300)], "separated_neq"))
    cases.append(ks_case([float(i) for i in range(60)], [float(i) + 0.5 for i in range(70)], "interleaved"))
    # medium exact (no rational check) and asymptotic cases from the shared generator
    for seed, n1, n2, scale2, shift2 in [(21, 3000, 2000, 1.0, 0.0), (22, 1200, 1800, 1.05, 0.0),
                                         (23, 10000, 7000, 1.0, 0.02), (24, 12000, 9000, 1.0, 0.01),
                                         (25, 20000, 300, 1.1, 0.0), (26, 15000, 40, 1.0, 0.3),
                                         (27, 10001, 10001, 1.0, 0.0), (28, 30000, 30000, 1.02, 0.0),
                                         (29, 11000, 2, 1.0, 0.5), (30, 50000, 20000, 1.0, 0.001)]:
        x = gen_values(seed, n1, 1.0, 0.0)
        y = gen_values(seed + 1000, n2, scale2, shift2)
        cases.append(ks_case(x, y, f"gen{seed}", {"seed_x": seed, "n_x": n1, "scale_x": 1.0, "shift_x": 0.0,
                                                    "seed_y": seed + 1000, "n_y": n2, "scale_y": scale2,
                                                    "shift_y": shift2}))
    # the exact null tail on its own: (n1, n2, h) with scipy's value and the exact rational one
    from scipy.stats._stats_py import _attempt_exact_2kssamp
    tails = []
    for n1, n2 in [(1, 1), (1, 5), (3, 5), (7, 7), (10, 15), (25, 40), (50, 50), (64, 96), (100, 37), (200, 150),
                   (199, 200), (300, 120)]:
        g = math.gcd(n1, n2)
        lcm = n1 // g * n2
        for frac in [0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9, 1.0]:
            h = int(round(frac * lcm))
            ok, _, p = _attempt_exact_2kssamp(n1, n2, g, h / lcm, "two-sided")
            tails.append([n1, n2, h, float(p) if ok else None, exact_ks_sf(n1, n2, h)])
    dump("ks.json", {"scipy": scipy.__version__, "cases": cases, "exact_sf": tails})


# ---------------------------------------------------------------------------------------------------- chi-square
def chisq():
    rng = np.random.default_rng(20240703)
    gof = []

    def add_gof(obs, prop, name):
        obs = [int(v) for v in obs]
        prop = [float(v) for v in prop]
        case = {"name": name, "obs": obs, "prop": prop}
        keep = [i for i in range(len(obs)) if prop[i] > 0]
        n = sum(obs)
        unseen = sum(obs[i] for i in range(len(obs)) if prop[i] == 0)
        if n > 0 and len(keep) >= 2:
            s = math.fsum(prop)
            f_exp = np.array([n * prop[i] / s for i in keep])
            f_obs = np.array([float(obs[i]) for i in keep])
            if unseen == 0:
                r = st.chisquare(f_obs, f_exp)
                case.update(stat=float(r.statistic), p=float(r.pvalue), dof=len(keep) - 1)
            else:
                stat = float(np.sum((f_obs - f_exp) ** 2 / f_exp))
                case.update(stat=stat, p=0.0, dof=len(keep) - 1, unseen=unseen)
        else:
            case["no_data"] = True
        gof.append(case)

    for i, k in enumerate([2, 3, 5, 10, 40]):
        prop = rng.dirichlet(np.ones(k))
        prop = [round(float(v), 6) for v in prop]
        obs = rng.multinomial(500 * k, np.array(prop) / sum(prop))
        add_gof(obs, prop, f"fit{i}")
        drifted = rng.multinomial(500 * k, rng.dirichlet(np.ones(k)))
        add_gof(drifted, prop, f"drift{i}")
    add_gof([10, 0, 5], [0.5, 0.0, 0.5], "zero_prop_unobserved")
    add_gof([10, 3, 5], [0.5, 0.0, 0.5], "zero_prop_observed")
    add_gof([0, 0, 0], [0.2, 0.3, 0.5], "no_observations")
    add_gof([7, 0], [1.0, 0.0], "one_category")
    add_gof([1], [1.0], "single")
    add_gof([1, 0], [0.5, 0.5], "one_sample")
    big = 10 ** 12
    add_gof([big + 1234567, big - 1234567, 2 * big], [1, 1, 2], "huge_counts")
    add_gof([big, big, big, big], [1, 1, 1, 1], "huge_exact_fit")
    add_gof([big + 3 * 10 ** 9, big - 10 ** 9, big - 2 * 10 ** 9], [1, 1, 1], "huge_drift")  # p underflows to 0
    add_gof([510, 490, 480, 520], [250, 250, 250, 250], "raw_reference_counts")
    add_gof([100, 0, 0, 0], [0.25, 0.25, 0.25, 0.25], "extreme_small_p")
    hom = []

    def add_hom(a, b, name):
        a = [int(v) for v in a]
        b = [int(v) for v in b]
        case = {"name": name, "a": a, "b": b}
        keep = [i for i in range(len(a)) if a[i] + b[i] > 0]
        if sum(a) > 0 and sum(b) > 0 and len(keep) >= 2:
            table = np.array([[a[i] for i in keep], [b[i] for i in keep]], dtype=float)
            stat, p, dof, _ = st.chi2_contingency(table, correction=False)
            case.update(stat=float(stat), p=float(p), dof=int(dof))
        else:
            case["no_data"] = True
        hom.append(case)

    for i, k in enumerate([2, 3, 6, 12, 50]):
        base = rng.dirichlet(np.ones(k))
        add_hom(rng.multinomial(300 * k, base), rng.multinomial(200 * k, base), f"same{i}")
        add_hom(rng.multinomial(300 * k, base), rng.multinomial(200 * k, rng.dirichlet(np.ones(k))), f"diff{i}")
    add_hom([10, 0, 7, 0], [5, 0, 9, 1], "empty_column")
    add_hom([0, 0, 0], [1, 2, 3], "empty_row")
    add_hom([5, 0], [7, 0], "one_column")
    add_hom([1, 0], [0, 1], "two_singletons")
    add_hom([big, 2 * big, 3 * big], [big + 10 ** 6, 2 * big - 10 ** 6, 3 * big], "huge_counts")
    add_hom([1000, 0], [0, 1000], "extreme_small_p")
    dump("chisq.json", {"scipy": scipy.__version__, "gof": gof, "homogeneity": hom})


# ------------------------------------------------------------------------------------------------------- mSPRT
def msprt_log_lr(e_t, n_t, e_c, n_c, tau, min_effect, two_sided):
    """The formula documented in stats/msprt.h, written independently."""
    d = e_t / n_t - e_c / n_c
    pt = (e_t + 0.5) / (n_t + 1)
    pc = (e_c + 0.5) / (n_c + 1)
    v = pt * (1 - pt) / n_t + pc * (1 - pc) / n_c
    tau2 = tau * tau
    delta = d - min_effect
    if not two_sided and delta <= 0:
        return 0.0, d, v
    return 0.5 * math.log(v / (v + tau2)) + tau2 * delta * delta / (2 * v * (v + tau2)), d, v


def msprt():
    rng = np.random.default_rng(20240704)
    seqs = []
    configs = [
        # (tau, alpha, min_effect, two_sided, p_control, p_treatment, n_looks, batch_t, batch_c)
        (0.05, 0.05, 0.0, False, 0.02, 0.02, 60, 20, 200),
        (0.05, 0.05, 0.0, False, 0.02, 0.06, 60, 20, 200),
        (0.01, 0.01, 0.0, False, 0.002, 0.02, 80, 10, 190),
        (0.02, 0.05, 0.005, False, 0.01, 0.03, 50, 50, 50),
        (0.1, 0.001, 0.0, False, 0.001, 0.5, 40, 1, 19),
        (0.05, 0.05, 0.0, True, 0.05, 0.01, 50, 30, 30),
        (0.05, 0.05, 0.0, True, 0.2, 0.2, 50, 30, 30),
        (0.03, 0.05, 0.0, False, 0.0, 0.0, 20, 100, 100),
        (0.05, 0.05, 0.0, False, 1.0, 0.0, 20, 5, 5),
    ]
    for i, (tau, alpha, me, two, pc_, pt_, looks, bt, bc) in enumerate(configs):
        e_t = n_t = e_c = n_c = 0
        p = 1.0
        rows = []
        for _ in range(looks):
            e_t += int(rng.binomial(bt, pt_))
            n_t += bt
            e_c += int(rng.binomial(bc, pc_))
            n_c += bc
            l, d, v = msprt_log_lr(e_t, n_t, e_c, n_c, tau, me, two)
            p = min(p, math.exp(-l) if l > 0 else 1.0)
            rows.append([e_t, n_t, e_c, n_c, l, d, v, p])
        seqs.append({"name": f"seq{i}", "tau": tau, "alpha": alpha, "min_effect": me, "two_sided": two,
                     "looks": rows})
    # huge counts and extremes
    extra = []
    for e_t, n_t, e_c, n_c, tau, me, two in [(10 ** 10, 10 ** 12, 9 * 10 ** 9, 10 ** 12, 0.05, 0.0, False),
                                             (0, 10 ** 12, 0, 10 ** 12, 0.05, 0.0, True),
                                             (5, 5, 0, 1000, 0.05, 0.0, False),
                                             (1, 1, 0, 1, 0.05, 0.0, False),
                                             (500, 1000, 10, 20000, 0.5, 0.1, False),
                                             (3, 100, 30, 100, 0.05, 0.0, False)]:
        l, d, v = msprt_log_lr(e_t, n_t, e_c, n_c, tau, me, two)
        extra.append([e_t, n_t, e_c, n_c, tau, me, two, l, d, v])
    dump("msprt.json", {"sequences": seqs, "single": extra})


if __name__ == "__main__":
    if sys.executable != "/usr/bin/python3":
        print("note: run with /usr/bin/python3 (Debian's numpy/scipy) to reproduce the committed fixtures",
              file=sys.stderr)
    os.makedirs(OUT, exist_ok=True)
    special()
    mwu()
    ks()
    chisq()
    msprt()
