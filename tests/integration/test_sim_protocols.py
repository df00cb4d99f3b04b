"""Protocol conformance of `sluice sim`: every answer shape (OpenAI chat and completions, plain, with logprobs and
streamed; KServe v2 infer and metadata; errors) has the keys and types of the recorded real answers in
tests/fixtures/sim, and the values that carry meaning are checked exactly."""
import json
import math
import subprocess

import pytest

import harness
from sim_helpers import ZERO, chat, conform, fixture, sse_events, start, truth


@pytest.fixture(scope="module")
def sim():
    p = start(*ZERO, "--output-tokens-mean", "6")
    yield p
    assert p.stop() == 0


@pytest.fixture(scope="module")
def ksim():
    p = start(*ZERO, "--protocol", "kserve_v2", "--model", "sentiment", "--labels", "positive,negative,neutral")
    yield p
    assert p.stop() == 0


def test_chat_plain(sim):
    status, headers, body, _ = chat(sim.addr, "Say hello")
    assert status == 200 and headers["content-type"] == "application/json"
    conform(body, fixture("openai_chat_completion.json"))
    assert body["object"] == "chat.completion" and body["model"] == "sim-model"
    assert body["id"].startswith("chatcmpl-")
    usage = body["usage"]
    assert usage["prompt_tokens"] == 3  # ceil(len("Say hello") / 4)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert len(body["choices"][0]["message"]["content"].split(" ")) == usage["completion_tokens"]


def test_chat_classification_logprobs(sim):
    for text in ["great movie", "terrible plot", "an average afternoon"]:
        status, headers, body, _ = chat(sim.addr, "classify: " + text, logprobs=True, top_logprobs=2)
        assert status == 200
        conform(body, fixture("openai_chat_completion_logprobs.json"))
        answer = body["choices"][0]["message"]["content"]
        assert headers["x-sim-truth"] == truth(text)
        assert headers["x-sim-correct"] == ("1" if answer == truth(text) else "0")
        content = body["choices"][0]["logprobs"]["content"]
        c = float(headers["x-sim-confidence"])
        assert len(content) == 1 and content[0]["token"] == answer
        assert content[0]["bytes"] == list(answer.encode())
        assert abs(math.exp(content[0]["logprob"]) - c) < 1e-5
        top = content[0]["top_logprobs"]
        assert [t["token"] for t in top] == [answer, "negative" if answer == "positive" else "positive"]
        assert abs(math.exp(top[1]["logprob"]) - (1 - c)) < 1e-5


def test_chat_free_text_logprobs_mean(sim):
    status, headers, body, _ = chat(sim.addr, "Tell me a story", logprobs=True, top_logprobs=3)
    content = body["choices"][0]["logprobs"]["content"]
    lps = [t["logprob"] for t in content]
    assert len(lps) == body["usage"]["completion_tokens"]
    assert all(lp <= 0 for lp in lps)
    assert abs(math.exp(sum(lps) / len(lps)) - float(headers["x-sim-confidence"])) < 1e-5
    assert all(len(t["top_logprobs"]) == 3 and t["top_logprobs"][0]["token"] == t["token"] for t in content)
    assert "".join(t["token"] for t in content) == body["choices"][0]["message"]["content"]


def test_chat_max_tokens_cuts_with_length(sim):
    for _ in range(20):
        status, _, body, _ = chat(sim.addr, "Tell me more", max_tokens=2)
        assert status == 200 and body["usage"]["completion_tokens"] <= 2
        if body["usage"]["completion_tokens"] == 2:
            assert body["choices"][0]["finish_reason"] in ("length", "stop")
        else:
            assert body["choices"][0]["finish_reason"] == "stop"


def test_chat_stream_with_usage(sim):
    status, headers, raw = harness.request(sim.addr, "POST", "/v1/chat/completions", body={
        "model": "sim-model", "messages": [{"role": "user", "content": "Say hello"}], "stream": True,
        "stream_options": {"include_usage": True}})
    assert status == 200 and headers["content-type"] == "text/event-stream"
    events = sse_events(raw)
    recorded = sse_events(fixture("openai_chat_stream_usage.sse"))
    conform(events[0], recorded[0])
    for e in events[1:-2]:
        conform(e, recorded[1])
    conform(events[-2], recorded[3])
    conform(events[-1], recorded[4])
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert len({e["id"] for e in events}) == 1
    n = events[-1]["usage"]["completion_tokens"]
    assert len(events) == n + 3  # role, one chunk per token, finish, usage


def test_chat_stream_logprobs_and_no_usage(sim):
    status, _, raw = harness.request(sim.addr, "POST", "/v1/chat/completions", body={
        "messages": [{"role": "user", "content": "classify: great movie"}], "stream": True, "logprobs": True,
        "top_logprobs": 2})
    events = sse_events(raw)
    assert len(events) == 3  # role, the label, finish; no usage chunk unless asked
    conform(events[1], fixture("openai_chat_chunk_logprobs.json"))
    assert events[1]["choices"][0]["delta"]["content"] in ("positive", "negative")


def test_completions(sim):
    status, headers, body, _ = harness.post_json(sim.addr, "/v1/completions", {"model": "sim-model", "prompt": "Say this is a test"})
    assert status == 200
    conform(body, fixture("openai_completion.json"))
    assert body["object"] == "text_completion" and body["id"].startswith("cmpl-")
    status, headers, body, _ = harness.post_json(sim.addr, "/v1/completions", {"prompt": "classify: great movie", "logprobs": 2})
    conform(body, fixture("openai_completion_logprobs.json"))
    lp = body["choices"][0]["logprobs"]
    assert lp["tokens"] == [body["choices"][0]["text"]] and lp["text_offset"] == [0]
    assert abs(math.exp(lp["token_logprobs"][0]) - float(headers["x-sim-confidence"])) < 1e-5
    assert len(lp["top_logprobs"][0]) == 2


def test_completions_stream(sim):
    status, _, raw = harness.request(sim.addr, "POST", "/v1/completions", body={"prompt": "Say this", "stream": True})
    events = sse_events(raw)
    recorded = sse_events(fixture("openai_completion_stream.sse"))
    for e in events[:-1]:
        conform(e, recorded[0])
    conform(events[-1], recorded[-1])
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(e["choices"][0]["finish_reason"] is None for e in events[:-1])


def test_openai_errors(sim):
    status, _, body = harness.request(sim.addr, "POST", "/v1/chat/completions", body=b"{not json",
                                      headers={"content-type": "application/json"})
    assert status == 400
    conform(json.loads(body), fixture("openai_error_400.json"))
    status, _, body, _ = chat(sim.addr, "hi", model="other-model")
    assert status == 404
    conform(body, fixture("openai_error_404.json"))
    assert body["error"]["code"] == "model_not_found" and "other-model" in body["error"]["message"]
    status, _, body, _ = chat(sim.addr, "hi", stream="yes")
    assert status == 400 and body["error"]["param"] == "stream"
    status, _, body, _ = harness.post_json(sim.addr, "/v1/chat/completions", {"messages": []})
    assert status == 400 and body["error"]["param"] == "messages"
    status, _, body = harness.request(sim.addr, "GET", "/v1/chat/completions")
    assert status == 405 and "error" in json.loads(body)


def test_models_and_health(sim):
    status, body = harness.get_json(sim.addr, "/v1/models")
    assert status == 200
    conform(body, fixture("openai_models.json"))
    assert [m["id"] for m in body["data"]] == ["sim-model"]
    assert harness.get_json(sim.addr, "/health") == (200, {"status": "ok"})


def test_curl_http2_stream(sim):
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-N", f"http://{sim.addr}/v1/chat/completions",
                          "-d", '{"messages":[{"role":"user","content":"hi"}],"stream":true}'],
                         capture_output=True, timeout=10, check=True).stdout
    events = sse_events(out)
    assert events[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_kserve_infer(ksim):
    texts = ["great movie", "terrible plot", "a film"]
    status, headers, body, _ = harness.post_json(ksim.addr, "/v2/models/sentiment/infer", {
        "id": "req-1", "inputs": [{"name": "text", "datatype": "BYTES", "shape": [3], "data": ["classify: " + t for t in texts]}]})
    assert status == 200
    conform(body, fixture("kserve_v2_infer_response.json"))
    assert body["id"] == "req-1" and body["model_name"] == "sentiment"
    probs, labels = body["outputs"][0], body["outputs"][1]
    assert probs["shape"] == [3, 3] and labels["shape"] == [3]
    conf = [float(c) for c in headers["x-sim-confidence"].split(",")]
    assert headers["x-sim-truth"].split(",") == [truth(t, ("positive", "negative", "neutral")) for t in texts]
    for i in range(3):
        row = probs["data"][3 * i:3 * i + 3]
        assert abs(sum(row) - 1) < 1e-6
        assert abs(max(row) - conf[i]) < 1e-6
        assert ["positive", "negative", "neutral"][row.index(max(row))] == labels["data"][i]
        correct = labels["data"][i] == headers["x-sim-truth"].split(",")[i]
        assert headers["x-sim-correct"][i] == ("1" if correct else "0")


def test_kserve_metadata_health_errors(ksim):
    status, body = harness.get_json(ksim.addr, "/v2/models/sentiment")
    assert status == 200
    conform(body, fixture("kserve_v2_model_metadata.json"))
    assert body["outputs"][0]["shape"] == [-1, 3]
    assert harness.get_json(ksim.addr, "/v2/health/ready")[0] == 200
    assert harness.get_json(ksim.addr, "/v2/health/live")[0] == 200
    assert harness.get_json(ksim.addr, "/v2/models/sentiment/ready") == (200, {"name": "sentiment", "ready": True})
    status, _, body, _ = harness.post_json(ksim.addr, "/v2/models/nope/infer", {"inputs": []})
    assert status == 404
    conform(body, fixture("kserve_v2_error.json"))
    status, _, body = harness.request(ksim.addr, "POST", "/v2/models/sentiment/infer", body=b"[1,2",
                                      headers={"content-type": "application/json"})
    assert status == 400 and isinstance(json.loads(body)["error"], str)
    status, _, body, _ = harness.post_json(ksim.addr, "/v2/models/sentiment/infer",
                                           {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1.0]}]})
    assert status == 400 and "BYTES" in body["error"]
