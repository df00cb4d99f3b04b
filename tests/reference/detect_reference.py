#!/usr/bin/python3
"""Reference detections for the concept-drift detectors of stats/ (DDM, ADWIN2), by straightforward Python
re-implementations of the papers' rules, on designed streams with change points. Writes
tests/fixtures/stats/detect.json; fixed seeds, so a rerun rewrites identical files:

    /usr/bin/python3 tests/reference/detect_reference.py

DDM: Gama, Medas, Castillo, Rodrigues, "Learning with drift detection", SBIA 2004.
ADWIN: Bifet, Gavalda, "Learning from time-changing data with adaptive windowing", SDM 2007. Two references:
  - adwin0: the naive O(W^2) version that tests every split of the window, with the cut rule
        |mu0 - mu1| >= sqrt(2/m var_W L) + 2/(3m) L,  m = 1/(1/n0 + 1/n1),  L = ln(2 ln(W) / delta),
    the window variance recomputed from the stored values at every check;
  - adwin2: the exponential histogram of the paper (M buckets per size), same rule at bucket boundaries.
With M at least the stream length no bucket ever merges, and ADWIN2 must detect exactly where adwin0 does.
"""
import json
import math
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "stats")


def dump(name, obj):
    path = os.path.normpath(os.path.join(OUT, name))
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print(f"{path}: {os.path.getsize(path)} bytes")


def ddm(stream, min_samples=30, warn=2.0, drift=3.0):
    """Per-sample states: 0 in control, 1 warning, 2 drift (the detector restarts after a drift)."""
    states = []
    n = errors = 0
    p_min = s_min = math.inf
    for e in stream:
        n += 1
        errors += e
        st = 0
        if n >= min_samples:
            p = errors / n
            s = math.sqrt(p * (1 - p) / n)
            if p + s < p_min + s_min:
                p_min, s_min = p, s
            if p + s > p_min + drift * s_min:
                st = 2
                n = errors = 0
                p_min = s_min = math.inf
            elif p + s > p_min + warn * s_min:
                st = 1
        states.append(st)
    return states


def runs(states, value):
    """[start, end] index pairs (inclusive) of the runs where states == value."""
    out, start = [], None
    for i, s in enumerate(states + [None]):
        if s == value and start is None:
            start = i
        elif s != value and start is not None:
            out.append([start, i - 1])
            start = None
    return out


def adwin0(stream, delta=0.002):
    """Naive ADWIN: after each sample, drop the oldest element while some split shows a cut."""
    window, detections = [], []
    for t, x in enumerate(stream):
        window.append(float(x))
        cut_any = False
        while True:
            w = len(window)
            if w < 2:
                break
            total = math.fsum(window)
            mean = total / w
            var = math.fsum((v - mean) ** 2 for v in window) / w
            L = math.log(2 * math.log(w) / delta)
            cut = False
            s0 = 0.0
            for i in range(1, w):  # W0 = window[:i], W1 = window[i:]
                s0 += window[i - 1]
                n0, n1 = i, w - i
                inv_m = 1 / n0 + 1 / n1
                d = abs(s0 / n0 - (total - s0) / n1)
                if d >= math.sqrt(2 * var * L * inv_m) + 2 / 3 * L * inv_m:
                    cut = True
                    break
            if not cut:
                break
            window.pop(0)
            cut_any = True
        if cut_any:
            detections.append(t)
    return detections, len(window)


class Adwin2:
    """The exponential-histogram ADWIN2, transcribed from the paper's description (same rule as adwin0)."""

    def __init__(self, delta=0.002, M=5, max_levels=32):
        self.delta, self.M, self.max_levels = delta, M, max_levels
        self.rows = []  # rows[l]: list of [sum, m2] buckets of 2^l samples, oldest first
        self.width, self.total, self.m2 = 0, 0.0, 0.0

    def drop_oldest(self):
        l = len(self.rows) - 1
        b_sum, b_m2 = self.rows[l].pop(0)
        if not self.rows[l]:
            self.rows.pop()
        nb = float(2 ** l)
        n = float(self.width)
        rest = n - nb
        if rest <= 0:
            self.width, self.total, self.m2 = 0, 0.0, 0.0
            return
        mean_rest = (self.total - b_sum) / rest
        d = b_sum / nb - mean_rest
        self.m2 -= b_m2 + d * d * nb * rest / n
        if self.m2 < 0:
            self.m2 = 0.0
        self.total -= b_sum
        self.width -= int(nb)

    def insert(self, x):
        n = float(self.width) + 1
        mean_old = self.total / self.width if self.width else 0.0
        if self.width:
            self.m2 += (x - mean_old) * (x - mean_old) * (float(self.width) / n)
        self.total += x
        self.width += 1
        if not self.rows:
            self.rows.append([])
        self.rows[0].append([x, 0.0])
        l = 0
        while l < len(self.rows) and len(self.rows[l]) > self.M:
            if l + 1 == self.max_levels:
                self.drop_oldest()
                break
            size = float(2 ** l)
            (s1, m1), (s2, m2_) = self.rows[l][0], self.rows[l][1]
            d = s1 / size - s2 / size
            merged = [s1 + s2, m1 + m2_ + d * d * size / 2]
            del self.rows[l][:2]
            if l + 1 == len(self.rows):
                self.rows.append([])
            self.rows[l + 1].append(merged)
            l += 1

    def cut_exists(self):
        if self.width < 2:
            return False
        w = float(self.width)
        L = math.log(2 * math.log(w) / self.delta)
        var = self.m2 / w
        AW, BW = 2 * var * L * w, 2.0 / 3 * L * w
        n0 = s0 = 0.0
        for l in range(len(self.rows) - 1, -1, -1):
            size = float(2 ** l)
            for b_sum, _ in self.rows[l]:
                n0 += size
                s0 += b_sum
                n1 = w - n0
                if n1 <= 0:
                    return False
                # |mu0 - mu1| >= sqrt(A/m) + B/m multiplied through by q = n0 n1 (1/m = w/q): no division
                D = abs(s0 * n1 - (self.total - s0) * n0) - BW
                if D >= 0 and D * D >= AW * (n0 * n1):
                    return True
        return False

    def run(self, stream):
        detections = []
        for t, x in enumerate(stream):
            self.insert(float(x))
            cut = False
            while self.cut_exists():
                self.drop_oldest()
                cut = True
            if cut:
                detections.append(t)
        return detections, self.width


def bits(a):
    return "".join("1" if v else "0" for v in a)


def main():
    rng = np.random.default_rng(20240707)
    bern = lambda p, n: [int(v) for v in (rng.random(n) < p)]
    ddm_cases = []

    def add_ddm(name, stream):
        st = ddm(stream)
        ddm_cases.append({"name": name, "stream": bits(stream), "drifts": [i for i, s in enumerate(st) if s == 2],
                          "warnings": runs(st, 1)})

    add_ddm("step_0.1_to_0.3", bern(0.1, 1000) + bern(0.3, 1000))
    add_ddm("step_0.2_to_0.25", bern(0.2, 500) + bern(0.25, 1500))
    add_ddm("periodic_10_then_3", [1 if i % 10 == 9 else 0 for i in range(1000)] +
            [1 if i % 3 == 2 else 0 for i in range(500)])
    add_ddm("gradual_0.05_to_0.3", [int(rng.random() < 0.05 + 0.25 * i / 2000) for i in range(2000)])
    add_ddm("stationary_0.15", bern(0.15, 3000))
    add_ddm("error_free_start", [0] * 40 + [1] + [0] * 20)

    adwin_cases = []

    def add_adwin(name, stream, naive=True):
        d2, w2 = Adwin2(0.002, 5, 32).run(stream)
        case = {"name": name, "adwin2": d2, "width": w2}
        if all(v in (0, 1) for v in stream):
            case["stream"] = bits(stream)
        else:
            case["values"] = [float(v) for v in stream]
        if naive:
            d0, w0 = adwin0(stream)
            case["adwin0"] = d0
            case["width0"] = w0
        adwin_cases.append(case)

    add_adwin("step_0.2_to_0.6", bern(0.2, 1000) + bern(0.6, 1000))
    add_adwin("step_0.3_to_0.4", bern(0.3, 1000) + bern(0.4, 1000))
    add_adwin("up_and_down", bern(0.1, 600) + bern(0.5, 600) + bern(0.1, 600))
    add_adwin("stationary_0.3", bern(0.3, 2000))
    add_adwin("all_zero_then_ones", [0] * 300 + [1] * 100)
    add_adwin("real_values", [round(float(v), 4) for v in rng.uniform(0, 0.5, 700)] +
              [round(float(v), 4) for v in rng.uniform(0.3, 0.8, 700)])
    add_adwin("long_step_0.05_to_0.15", bern(0.05, 6000) + bern(0.15, 6000), naive=False)
    dump("detect.json", {"ddm": ddm_cases, "adwin": adwin_cases})


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    main()
