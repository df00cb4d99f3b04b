#!/usr/bin/python3
"""Reference values for model monitoring (policies/monitor*, quality, reference), computed with numpy/scipy from
Debian's python3 packages, independently of the C code. Writes tests/fixtures/monitor/:

  measures.json   the measures of one value from reference and window counts: PSI, Jensen-Shannon distance,
                  Kolmogorov-Smirnov on binned counts (statistic and asymptotic p-value), chi-square goodness of
                  fit of categorical counts to the smoothed reference, null and type-error ratios
  stream.json     a reference document and a timed stream of request bodies on two workers, with the sliding
                  window's measures and drift states at given times, as the policy must compute them
  quality.json    streams of (prediction, truth) with accuracy, macro precision / recall / F1, MAE and RMSE
  sample.jsonl, sample_expected.json
                  a sample of requests for `sluice reference` and the reference it must produce

Fixed seeds: running the script again rewrites identical files.

    /usr/bin/python3 tests/reference/monitor_reference.py

Definitions (docs/MONITORING.md): proportions a = (c / N + eps) / (1 + k eps) with eps = 1e-4; PSI = sum (a - r)
ln(a / r); JS = scipy.spatial.distance.jensenshannon(p, q, base=2); categories empty on both sides are left out;
categorical values are compared on the reference's partition (its categories, every other value as __other__);
KS D = max over inner edges |R_i / N_r - C_i / N_c| and p = scipy.stats.kstwo.sf(D, max(1, round(N_r N_c / (N_r +
N_c)))); chi-square = scipy.stats.chisquare(cur, N_c * prop) with prop = (ref + eps N_r) / (N_r (1 + k eps)).
"""
import json
import os
from fractions import Fraction

import numpy as np
import scipy
import scipy.stats as st
from scipy.spatial.distance import jensenshannon

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "monitor"))
EPS = 1e-4


def dump(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print(f"{path}: {os.path.getsize(path)} bytes")


# ---------------------------------------------------------------------------------------------------------- measures
def measures(kind, ref, cur, nulls, type_errors, min_samples):
    ref = [int(v) for v in ref]
    cur = [int(v) for v in cur]
    if kind == "categorical":
        pairs = [(r, c) for r, c in zip(ref, cur) if r or c]
        r_used = [p[0] for p in pairs]
        c_used = [p[1] for p in pairs]
    else:
        r_used, c_used = ref, cur
    n_ref, n_cur = sum(ref), sum(cur)
    out = {"n_ref": n_ref, "n_cur": n_cur}
    total = n_cur + nulls + type_errors
    if total:
        out["null_ratio"] = nulls / total
        out["type_error_ratio"] = type_errors / total
    if n_ref >= min_samples and n_cur >= min_samples and n_ref and n_cur:
        k = len(r_used)
        r = (np.array(r_used, dtype=float) / n_ref + EPS) / (1 + k * EPS)
        a = (np.array(c_used, dtype=float) / n_cur + EPS) / (1 + k * EPS)
        out["psi"] = float(np.sum((a - r) * np.log(a / r)))
        out["js"] = float(jensenshannon(np.array(r_used, dtype=float), np.array(c_used, dtype=float), base=2))
        if out["js"] != out["js"]:
            out["js"] = 0.0
        if kind == "numeric":
            best = 0
            ri = ci = 0
            for i in range(k - 1):  # exact integers
                ri += r_used[i]
                ci += c_used[i]
                best = max(best, abs(ri * n_cur - ci * n_ref))
            d = best / (n_ref * n_cur)
            m = max(1, round(Fraction(n_ref * n_cur, n_ref + n_cur)))  # exact, half to even
            out["ks_statistic"] = d
            out["ks_pvalue"] = float(st.kstwo.sf(d, m)) if d > 0 else 1.0
        else:
            prop = [(x + EPS * n_ref) / (n_ref * (1 + k * EPS)) for x in r_used]
            usable = [(c, p) for c, p in zip(c_used, prop) if p > 0]
            if len(usable) >= 2:
                obs = np.array([u[0] for u in usable], dtype=float)
                exp = np.array([u[1] for u in usable], dtype=float)
                exp = exp / exp.sum() * obs.sum()
                res = st.chisquare(obs, exp)
                out["chi2_statistic"] = float(res.statistic)
                out["chi2_pvalue"] = float(res.pvalue)
                out["chi2_dof"] = len(usable) - 1
    return out


def measure_cases():
    rng = np.random.default_rng(20250131)
    cases = []

    def add(name, kind, ref, cur, nulls=0, type_errors=0, min_samples=1):
        cases.append({"name": name, "type": kind, "ref": [int(v) for v in ref], "cur": [int(v) for v in cur],
                      "nulls": nulls, "type_errors": type_errors, "min_samples": min_samples,
                      "expect": measures(kind, ref, cur, nulls, type_errors, min_samples)})

    base = rng.normal(0, 1, 4000)
    edges = np.quantile(base, np.arange(1, 10) / 10)
    rc = np.bincount(np.searchsorted(edges, base, side="right"), minlength=10)
    for name, shift, scale, n in [("same", 0, 1, 900), ("shift_small", 0.1, 1, 2000), ("shift_large", 1.0, 1, 1500),
                                  ("scale", 0, 2, 3000), ("tiny_window", 0.5, 1, 7)]:
        cur = rng.normal(shift, scale, n)
        add(name, "numeric", rc, np.bincount(np.searchsorted(edges, cur, side="right"), minlength=10), nulls=n // 9,
            type_errors=n // 31)
    add("all_in_one_bin", "numeric", rc, [0] * 9 + [500])
    add("disjoint", "numeric", [100, 100, 0, 0], [0, 0, 50, 50])
    add("one_each", "numeric", [1, 0, 0], [0, 0, 1])
    add("huge", "numeric", [10 ** 12, 2 * 10 ** 12, 3 * 10 ** 12, 10 ** 12],
        [10 ** 12 + 7 * 10 ** 8, 2 * 10 ** 12, 3 * 10 ** 12 - 10 ** 9, 10 ** 12 + 3 * 10 ** 8])
    add("below_min_samples", "numeric", rc, [5, 5, 5, 5, 5, 5, 5, 5, 5, 4], min_samples=50)
    add("only_nulls", "numeric", rc, [0] * 10, nulls=120, type_errors=5, min_samples=100)
    add("empty", "numeric", rc, [0] * 10)
    add("cat_same", "categorical", [500, 300, 200, 0, 0], [250, 150, 100, 0, 0])
    add("cat_new", "categorical", [500, 300, 200, 0, 0], [200, 150, 100, 0, 90], nulls=40)
    add("cat_vanished", "categorical", [500, 300, 200, 10, 0], [400, 300, 0, 10, 0])
    add("cat_other_grows", "categorical", [600, 300, 0, 100], [300, 300, 0, 400], type_errors=12)
    add("cat_single", "categorical", [0, 40, 0], [0, 70, 0])
    add("cat_huge", "categorical", [10 ** 12, 3 * 10 ** 12, 10 ** 9], [10 ** 12 + 10 ** 8, 3 * 10 ** 12, 2 * 10 ** 9])
    p = rng.dirichlet(np.ones(40))
    add("cat_random", "categorical", list(rng.multinomial(20000, p)) + [0] * 25,
        list(rng.multinomial(5000, rng.dirichlet(np.ones(40) * 3))) + [0] * 25)
    dump("measures.json", {"numpy": np.__version__, "scipy": scipy.__version__, "eps": EPS, "cases": cases})


# ------------------------------------------------------------------------------------------------------------ stream
def level_high(v, warn, alert, f):
    if alert > 0 and v >= alert * f:
        return 2
    if warn > 0 and v >= warn * f:
        return 1
    return 0


def state_of(m, th, min_samples, prev):
    total = m["n_cur"] + m["nulls"] + m["type_errors"]
    if total < min_samples or total == 0:
        return 0
    h = th["hysteresis"]
    raw, hold = [], []
    if "psi" in m:
        raw.append(level_high(m["psi"], th["psi_warn"], th["psi_alert"], 1))
        hold.append(level_high(m["psi"], th["psi_warn"], th["psi_alert"], 1 - h))
    if "ks_pvalue" in m and th["ks_pvalue"] > 0:
        raw.append(2 if m["ks_pvalue"] < th["ks_pvalue"] else 0)
        hold.append(2 if m["ks_pvalue"] < th["ks_pvalue"] * (1 + h) else 0)
    raw.append(level_high(m["null_ratio"], th["null_ratio_warn"], th["null_ratio_alert"], 1))
    hold.append(level_high(m["null_ratio"], th["null_ratio_warn"], th["null_ratio_alert"], 1 - h))
    level, held, before = max(raw), max(hold), max(prev - 1, 0)
    if level < before:
        level = min(held, before)
    return 1 + level  # 1 ok, 2 warn, 3 alert


def stream():
    rng = np.random.default_rng(20250201)
    slot_ms, slots, min_samples, bins, max_cat = 10000, 6, 20, 5, 3
    th = {"psi_warn": 0.1, "psi_alert": 0.25, "ks_pvalue": 1e-6, "null_ratio_warn": 0.2, "null_ratio_alert": 0.5,
          "hysteresis": 0.2}
    ref_x = rng.normal(10, 2, 1000)
    edges = np.quantile(ref_x, np.arange(1, bins) / bins)
    ref_counts = np.bincount(np.searchsorted(edges, ref_x, side="right"), minlength=bins)
    ref_cats, ref_cat_counts, ref_other = ["a", "b"], [600, 350], 50
    reference = {"format": "sluice-reference", "version": 1, "route": "r", "created": "2025-02-01T00:00:00Z",
                 "samples": 1000, "features": [
                     {"name": "x", "source": "/x", "type": "numeric", "edges": [float(e) for e in edges],
                      "counts": [int(c) for c in ref_counts], "nulls": 0, "type_errors": 0},
                     {"name": "c", "source": "/c", "type": "categorical", "categories": ref_cats,
                      "counts": ref_cat_counts, "other": ref_other, "nulls": 3, "type_errors": 0}]}
    events = []
    t = 1000
    phases = [(300, 10, 2, {"a": 0.6, "b": 0.35, "d": 0.05}, 0.02),   # like the reference
              (300, 11.5, 2, {"a": 0.3, "b": 0.3, "d": 0.2, "e": 0.1, "f": 0.1}, 0.3),  # drifted, many nulls
              (300, 10, 2, {"a": 0.6, "b": 0.4}, 0.0)]  # back
    for n, mu, sd, cats, null_share in phases:
        names = list(cats)
        probs = np.array([cats[k] for k in names])
        for _ in range(n):
            t += int(rng.integers(50, 350))
            worker = int(rng.integers(0, 2))
            body = {}
            u = rng.random()
            if u < null_share / 2:
                pass  # x missing
            elif u < null_share:
                body["x"] = None
            elif u < null_share + 0.01:
                body["x"] = "12"  # a type error
            else:
                body["x"] = round(float(rng.normal(mu, sd)), 3)
            body["c"] = names[int(rng.choice(len(names), p=probs))]
            events.append([t, worker, json.dumps(body, separators=(",", ":"))])
    xcells, ccells = [], []  # per event: the x cell (bins, then null, type error) and the c cell (ref's, then other)
    for t, w, body in events:
        b = json.loads(body)
        x = b.get("x", None)
        if "x" not in b or x is None:
            xcells.append(bins)
        elif isinstance(x, str):
            xcells.append(bins + 1)
        else:
            xcells.append(int(np.searchsorted(edges, x, side="right")))
        ccells.append(ref_cats.index(b["c"]) if b["c"] in ref_cats else len(ref_cats))

    def window(T):
        head = T // slot_ms
        inwin = [i for i, ev in enumerate(events) if ev[0] <= T and ev[0] // slot_ms > head - slots]
        xc = np.bincount([xcells[i] for i in inwin], minlength=bins + 2)
        cc = np.bincount([ccells[i] for i in inwin], minlength=len(ref_cats) + 1)
        mx = measures("numeric", ref_counts, xc[:bins], int(xc[bins]), int(xc[bins + 1]), min_samples)
        mx.update(nulls=int(xc[bins]), type_errors=int(xc[bins + 1]))
        mc = measures("categorical", list(ref_cat_counts) + [ref_other], cc, 0, 0, min_samples)
        mc.update(nulls=0, type_errors=0)
        return mx, mc

    # the policy evaluates on a tick when SL_MONITOR_EVAL_INTERVAL_MS (5 s) passed since its last evaluation, and the
    # test forces one at each eval time: states carry hysteresis from one evaluation to the next, so the schedule
    # is replayed exactly (a tick after every event, then tick + forced evaluation at each eval time)
    eval_times = list(range(30000, t + 60000, 7000))
    ticks = sorted([(ev[0], 0) for ev in events] + [(T, 1) for T in eval_times])
    evals, prev, last = [], {"x": 0, "c": 0}, None

    def evaluate(T):
        mx, mc = window(T)
        prev["x"] = mx["state"] = state_of(mx, th, min_samples, prev["x"])
        prev["c"] = mc["state"] = state_of(mc, dict(th, ks_pvalue=0), min_samples, prev["c"])
        return mx, mc

    for T, forced in ticks:
        if last is None or T - last >= 5000:
            evaluate(T)
            last = T
        if forced:
            mx, mc = evaluate(T)
            last = T
            evals.append({"t": T, "x": mx, "c": mc})
    dump("stream.json", {"slot_ms": slot_ms, "slots": slots, "min_samples": min_samples, "bins": bins,
                         "max_categories": max_cat, "thresholds": th, "reference": reference, "events": events,
                         "evals": evals})


# ----------------------------------------------------------------------------------------------------------- quality
def classification_metrics(pairs, num_labels):
    n = len(pairs)
    correct = sum(1 for p, t in pairs if p == t)
    ps, rs, fs, present = 0.0, 0.0, 0.0, 0
    for c in range(num_labels):
        tp = sum(1 for p, t in pairs if p == t == c)
        fp = sum(1 for p, t in pairs if p == c and t != c)
        fn = sum(1 for p, t in pairs if t == c and p != c)
        if tp + fp + fn == 0:
            continue
        present += 1
        ps += tp / (tp + fp) if tp + fp else 0.0
        rs += tp / (tp + fn) if tp + fn else 0.0
        fs += 2 * tp / (2 * tp + fp + fn)
    return {"n": n, "accuracy": correct / n, "precision": ps / present, "recall": rs / present, "f1": fs / present,
            "labels_present": present}


def quality():
    rng = np.random.default_rng(20250202)
    cases = []
    for name, labels, n, acc in [("binary", 2, 400, 0.8), ("five_labels", 5, 1000, 0.6), ("one_class_seen", 3, 50, 1.0),
                                 ("with_unknown_predictions", 4, 300, 0.5)]:
        pairs = []
        for _ in range(n):
            t = int(rng.integers(0, labels)) if name != "one_class_seen" else 1
            if rng.random() < acc:
                p = t
            else:
                p = int(rng.integers(0, labels + (1 if name == "with_unknown_predictions" else 0)))
            pairs.append([p, t])
        cases.append({"name": name, "task": "classification", "labels": labels, "pairs": pairs,
                      "expect": classification_metrics(pairs, labels)})
    for name, n, noise, scale in [("regression", 500, 0.5, 1.0), ("regression_big", 200, 3e3, 1e6)]:
        truth = rng.normal(0, scale, n)
        pred = truth + rng.normal(0.1 * scale, noise, n)
        e = pred - truth
        cases.append({"name": name, "task": "regression", "pairs": [[float(p), float(t)] for p, t in zip(pred, truth)],
                      "expect": {"n": n, "mae": float(np.mean(np.abs(e))), "rmse": float(np.sqrt(np.mean(e * e)))}})
    dump("quality.json", {"numpy": np.__version__, "cases": cases})


# ------------------------------------------------------------------------------------------------------------ sample
def sample():
    rng = np.random.default_rng(20250203)
    langs = ["en", "fr", "de", "es", "it", "pt"]
    lp = np.array([0.4, 0.2, 0.15, 0.1, 0.1, 0.05])
    lines = []
    temps, msgs, outs, langs_seen, preds = [], [], [], [], []
    t_null = t_type = o_null = l_null = 0
    for i in range(257):
        body = {"model": "m", "messages": [{"role": "user", "content": f"question {i}"}] * int(rng.integers(1, 5)),
                "metadata": {}}
        msgs.append(len(body["messages"]))
        u = rng.random()
        if u < 0.05:
            t_null += 1
        elif u < 0.08:
            body["temperature"] = None
            t_null += 1
        elif u < 0.1:
            body["temperature"] = "hot"
            t_type += 1
        else:
            v = round(float(rng.uniform(0, 1.5)), 2)
            body["temperature"] = v
            temps.append(v)
        if rng.random() < 0.9:
            lang = langs[int(rng.choice(len(langs), p=lp))]
            body["metadata"]["lang"] = lang
            langs_seen.append(lang)
        else:
            l_null += 1
        if rng.random() < 0.95:
            o = int(rng.integers(1, 900))
            body["output_tokens"] = o
            outs.append(o)
        else:
            o_null += 1
        label = ["positive", "negative", "neutral"][int(rng.choice(3, p=[0.5, 0.3, 0.2]))]
        body["label" if i % 2 else "prediction"] = label
        preds.append(label)
        lines.append(json.dumps(body, separators=(",", ":")))
        if i % 50 == 7:
            lines.append("")  # blank lines are skipped
    with open(os.path.join(OUT, "sample.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")

    def numeric(name, source, values, k, nulls, type_errors):
        v = np.sort(np.asarray(values, dtype=float))
        edges = np.quantile(v, np.arange(1, k) / k)
        counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=k)
        return {"name": name, "source": source, "type": "numeric", "edges": [float(e) for e in edges],
                "counts": [int(c) for c in counts], "nulls": nulls, "type_errors": type_errors}

    def categorical(name, source, values, k, nulls):
        counts = {}
        for v in values:
            counts[v] = counts.get(v, 0) + 1
        order = sorted(counts, key=lambda c: (-counts[c], c))
        keep = order[:k]
        return {"name": name, "source": source, "type": "categorical", "categories": keep,
                "counts": [counts[c] for c in keep], "other": sum(counts[c] for c in order[k:]), "nulls": nulls,
                "type_errors": 0}

    expected = {"format": "sluice-reference", "version": 1, "route": "chat", "created": "2025-02-03T00:00:00Z",
                "samples": 257,
                "prediction": categorical("prediction", "label:/choices/0/message/content", preds, 8, 0),
                "features": [numeric("temperature", "/temperature", temps, 4, t_null, t_type),
                             categorical("lang", "/metadata/lang", langs_seen, 3, l_null),
                             numeric("message_count", "message_count", msgs, 2, 0, 0),
                             numeric("output_tokens", "output_tokens", outs, 10, o_null, 0)]}
    dump("sample_expected.json", expected)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    measure_cases()
    stream()
    quality()
    sample()
