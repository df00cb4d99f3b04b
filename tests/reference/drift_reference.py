#!/usr/bin/python3
"""Reference values for the drift measures and summaries of stats/ (reference-quantile bin edges, PSI,
Jensen-Shannon distance, Welford moments and their merge), computed with numpy/scipy from Debian's python3
packages. Writes tests/fixtures/stats/{drift,moments}.json; fixed seeds, so a rerun rewrites identical files:

    /usr/bin/python3 tests/reference/drift_reference.py

PSI is defined here exactly as in stats/drift.h: proportions p = count / N, then (p + eps) / (1 + k eps) with
eps = 1e-4, PSI = sum (a - r) ln(a / r). JS is scipy.spatial.distance.jensenshannon(p, q, base=2).
"""
import json
import os

import numpy as np
import scipy
from scipy.spatial.distance import jensenshannon

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "stats")
EPS = 1e-4


def dump(name, obj):
    path = os.path.normpath(os.path.join(OUT, name))
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print(f"{path}: {os.path.getsize(path)} bytes")


def psi(ref, cur, eps=EPS):
    ref = np.asarray(ref, dtype=float)
    cur = np.asarray(cur, dtype=float)
    k = len(ref)
    r = (ref / ref.sum() + eps) / (1 + k * eps)
    a = (cur / cur.sum() + eps) / (1 + k * eps)
    return float(np.sum((a - r) * np.log(a / r)))


def js(ref, cur):
    return float(jensenshannon(np.asarray(ref, dtype=float), np.asarray(cur, dtype=float), base=2))


def numeric_case(name, ref, cur, k):
    ref = sorted(float(v) for v in ref)
    qs = np.arange(1, k) / k
    edges = np.quantile(np.asarray(ref), qs)  # numpy's default: linear (Hyndman-Fan 7)
    rc = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=k)
    cc = np.bincount(np.searchsorted(edges, np.asarray(cur, dtype=float), side="right"), minlength=k)
    case = {"name": name, "k": k, "ref": ref, "cur": [float(v) for v in cur], "edges": [float(e) for e in edges],
            "ref_counts": [int(c) for c in rc], "cur_counts": [int(c) for c in cc]}
    if len(cur) and len(ref):
        case.update(psi=psi(rc, cc), js=js(rc, cc))
    else:
        case["no_data"] = True
    return case


def drift():
    rng = np.random.default_rng(20240705)
    numeric = []
    r4 = lambda a: [round(float(v), 4) for v in a]
    numeric.append(numeric_case("same_normal", r4(rng.normal(0, 1, 500)), r4(rng.normal(0, 1, 400)), 10))
    numeric.append(numeric_case("shifted_normal", r4(rng.normal(0, 1, 500)), r4(rng.normal(0.5, 1, 400)), 10))
    numeric.append(numeric_case("scaled_lognormal", r4(rng.lognormal(3, 1, 800)), r4(rng.lognormal(3, 1.4, 300)), 10))
    numeric.append(numeric_case("k4", r4(rng.exponential(2, 200)), r4(rng.exponential(3, 250)), 4))
    numeric.append(numeric_case("k20", r4(rng.normal(0, 1, 1000)), r4(rng.normal(0, 1.2, 1000)), 20))
    ints = [float(v) for v in rng.integers(0, 6, 300)]  # heavy ties: duplicated edges
    numeric.append(numeric_case("ties", ints, [float(v) for v in rng.integers(0, 8, 300)], 10))
    numeric.append(numeric_case("constant_ref", [7.0] * 50, r4(rng.normal(7, 1, 60)), 10))
    numeric.append(numeric_case("constant_both", [7.0] * 50, [7.0] * 20, 10))
    numeric.append(numeric_case("one_sample_ref", [3.25], [1.0, 3.25, 4.0], 10))
    numeric.append(numeric_case("one_sample_cur", r4(rng.normal(0, 1, 100)), [0.1], 10))
    numeric.append(numeric_case("disjoint", r4(rng.uniform(0, 1, 100)), r4(rng.uniform(5, 6, 100)), 10))
    numeric.append(numeric_case("values_on_edges", [float(v) for v in range(11)], [float(v) for v in range(11)], 10))
    numeric.append(numeric_case("empty_cur", r4(rng.normal(0, 1, 50)), [], 10))
    categorical = []

    def cat(name, ref, cur):
        case = {"name": name, "ref": [int(v) for v in ref], "cur": [int(v) for v in cur]}
        if sum(ref) and sum(cur):
            case.update(psi=psi(ref, cur), js=js(ref, cur))
        else:
            case["no_data"] = True
        categorical.append(case)

    cat("same", [500, 300, 200], [250, 150, 100])
    cat("moved", [500, 300, 200], [200, 300, 500])
    cat("new_category", [500, 300, 200, 0], [400, 300, 200, 100])
    cat("vanished_category", [500, 300, 200, 10], [400, 300, 300, 0])
    cat("all_zero_bins_but_one", [0, 0, 10, 0], [0, 0, 3, 0])
    cat("disjoint", [10, 0], [0, 10])
    cat("huge_counts", [10 ** 12, 2 * 10 ** 12, 3 * 10 ** 12], [10 ** 12 + 10 ** 9, 2 * 10 ** 12, 3 * 10 ** 12 - 10 ** 9])
    cat("empty_ref", [0, 0, 0], [1, 2, 3])
    cat("one_observation", [1, 0, 0], [0, 0, 1])
    for i, k in enumerate([5, 30, 200]):
        p = rng.dirichlet(np.ones(k))
        cat(f"random{i}", rng.multinomial(1000 * k, p), rng.multinomial(300 * k, rng.dirichlet(np.ones(k) * 5)))
    dump("drift.json", {"numpy": np.__version__, "scipy": scipy.__version__, "eps": EPS, "numeric": numeric,
                        "categorical": categorical})


def moments():
    rng = np.random.default_rng(20240706)
    cases = []

    def add(name, shards):
        shards = [[float(v) for v in s] for s in shards]
        allv = np.asarray([v for s in shards for v in s], dtype=float)
        case = {"name": name, "shards": shards}
        if len(allv):
            case.update(n=len(allv), mean=float(np.mean(allv)), var_pop=float(np.var(allv)),
                        var_sample=float(np.var(allv, ddof=1)) if len(allv) > 1 else 0.0,
                        min=float(allv.min()), max=float(allv.max()))
        else:
            case["no_data"] = True
        cases.append(case)

    add("normal", [rng.normal(10, 3, 300)])
    add("shards", [rng.normal(10, 3, 200), rng.normal(12, 1, 50), rng.normal(9, 5, 400), []])
    add("offset_1e9", [1e9 + rng.normal(0, 1, 400)])  # catastrophic for sum-of-squares, fine for Welford
    add("offset_shards", [1e9 + rng.normal(0, 1, 150), 1e9 + 5 + rng.normal(0, 1, 350)])
    add("one_value", [[4.5]])
    add("constant", [[2.0] * 100, [2.0] * 3])
    add("empty", [[], []])
    add("latencies", [rng.lognormal(5, 1.2, 500)])
    dump("moments.json", {"numpy": np.__version__, "cases": cases})


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    drift()
    moments()
