"""Capacity of `sluice sim`: slots and a FIFO queue make latency grow once offered load passes capacity, and a full
queue refuses with 429 (openai) or 503 (kserve_v2) and a Retry-After header. Every load is bounded in count."""
import concurrent.futures
import time

import harness
from sim_helpers import chat, conform, fixture, start


def timed_chat(addr):
    t0 = time.monotonic()
    status, headers, body, _ = chat(addr, "hi", max_tokens=1)
    return status, time.monotonic() - t0, headers, body


def burst(addr, n, fn=timed_chat):
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: fn(addr), range(n)))


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def test_latency_grows_past_capacity():
    # 2 slots, 50 ms per answer: 2 concurrent requests fit; 40 wait in 20 waves of 50 ms
    p = start("--slots", "2", "--queue", "100", "--ttft-ms", "50", "--ttft-jitter-ms", "0", "--ttft-per-token-ms", "0",
              "--tpot-ms", "0", "--tpot-jitter-ms", "0")
    try:
        low = [r for _ in range(3) for r in burst(p.addr, 2)]
        high = burst(p.addr, 40)
        assert all(r[0] == 200 for r in low + high)
        low_lat = [r[1] for r in low]
        high_lat = [r[1] for r in high]
        assert 0.045 <= quantile(low_lat, 0.5) < 0.15, low_lat
        # served in pairs: the k-th pair finishes at about 50 ms * k, so p50 is near 500 ms and p90 near 900 ms
        assert quantile(high_lat, 0.5) > 0.35, sorted(high_lat)
        assert quantile(high_lat, 0.9) > 0.7, sorted(high_lat)
        assert max(high_lat) < 3.0
        assert min(high_lat) >= 0.045
        _, stats = harness.get_json(p.addr, "/sim/stats")
        assert stats["by_status"]["200"] == 46 and stats["queued_now"] == 0 and stats["in_flight"] == 0
    finally:
        assert p.stop() == 0


def test_queue_overflow_429_openai():
    p = start("--slots", "1", "--queue", "3", "--ttft-ms", "500", "--ttft-jitter-ms", "0", "--ttft-per-token-ms", "0",
              "--tpot-ms", "0", "--tpot-jitter-ms", "0")
    try:
        results = burst(p.addr, 10)
        codes = sorted(r[0] for r in results)
        assert codes == [200] * 4 + [429] * 6, codes
        for status, _, headers, body in results:
            if status == 429:
                assert int(headers["retry-after"]) >= 1
                conform(body, fixture("openai_error_429.json"))
                assert body["error"]["code"] == "rate_limit_exceeded" and body["error"]["type"] == "requests"
        _, stats = harness.get_json(p.addr, "/sim/stats")
        assert stats["rejected"] == 6 and stats["by_status"]["429"] == 6
    finally:
        assert p.stop() == 0


def test_queue_overflow_503_kserve():
    p = start("--protocol", "kserve_v2", "--slots", "1", "--queue", "0", "--ttft-ms", "400", "--ttft-jitter-ms", "0",
              "--ttft-per-token-ms", "0", "--tpot-ms", "0", "--tpot-jitter-ms", "0")

    def infer(addr):
        status, headers, body, _ = harness.post_json(addr, "/v2/models/sim-model/infer", {
            "inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["nice"]}]})
        return status, headers, body

    try:
        results = burst(p.addr, 3, infer)
        assert sorted(r[0] for r in results) == [200, 503, 503]
        for status, headers, body in results:
            if status == 503:
                conform(body, fixture("kserve_v2_error.json"))
                assert int(headers["retry-after"]) >= 1
    finally:
        assert p.stop() == 0
