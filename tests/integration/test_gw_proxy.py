"""The proxy path of `sluice run` against `sluice sim` and scripted upstreams: the answer and what the upstream
received, byte for byte where it matters (model rewrite, hop-by-hop fields both ways, x-forwarded-*, x-request-id),
streams, HEAD, HTTP/2, and the gateway's own 400/404/413 answers."""
import json
import re
import subprocess

import harness
from gw_helpers import (ZERO, Gateway, Upstream, answer, backend_yaml, chat_body, config, error_of, head_fields,
                        keepalive, post, raw_request, sim)
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running


def test_chat_through_sim_rewrites_model_and_tags_the_answer():
    s = sim(*ZERO, "--model", "llama-8b")
    g = Gateway(config(backend_yaml("small", [s.addr], model="llama-8b"), [("chat", "/v1/chat/completions", "small")]))
    try:
        status, headers, doc, _ = harness.post_json(g.addr, "/v1/chat/completions", chat_body(model="anything"))
        assert status == 200, doc
        assert doc["model"] == "llama-8b"  # the sim answers 404 for any other model name
        assert doc["object"] == "chat.completion"
        assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
        assert headers["x-sluice-backend"] == "small" and headers["x-sluice-tier"] == "0"
        assert headers["server"] == "sluice"
        _, stats = harness.get_json(s.addr, "/sim/stats")
        assert stats["requests"] == 1 and stats["by_status"]["200"] == 1
    finally:
        g.stop()
        s.stop()


def test_upstream_request_bytes():
    up = Upstream(lambda c, i, req: answer(c, body=b'{"id":1}'))
    g = Gateway(config(backend_yaml("b", [up.addr], model='"m\\"x"', extra="health: { enabled: false }"),
                       [("r", "/v1/", "b")]))  # no health check may land among the recorded requests
    try:
        body = b'{"model":"client","messages":[{"role":"user","content":"hi"}],"n":1}'
        raw = (b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: api.test\r\nContent-Type: application/json\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n"
               b"Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
               b"Proxy-Authorization: Basic Zm9vOmJhcg==\r\nProxy-Connection: keep-alive\r\n"
               b"X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Request-Id: client-id-42\r\n"
               b"X-Keep: yes\r\nAuthorization: Bearer k\r\n\r\n" + body)
        status, headers, resp = raw_request(g.addr, raw)
        assert status == "HTTP/1.1 200 OK" and resp == b'{"id":1}'
        assert headers["x-request-id"] == ["client-id-42"]
        assert len(up.requests) == 1
        head, sent = up.requests[0]
        assert head.split(b"\r\n")[0] == b"POST /v1/chat/completions?x=1 HTTP/1.1"
        f = head_fields(head)
        # the body went out unchanged except the model (escaped as a JSON string)
        assert sent == b'{"model":"m\\"x","messages":[{"role":"user","content":"hi"}],"n":1}'
        assert f["content-length"] == [str(len(sent))]
        assert f["host"] == ["api.test"]
        for hop in ("connection", "x-hop", "keep-alive", "te", "proxy-authorization", "proxy-connection", "transfer-encoding"):
            assert hop not in f, hop
        assert f["x-forwarded-for"] == ["203.0.113.7, 127.0.0.1"]
        assert f["x-forwarded-proto"] == ["http"]
        assert f["x-request-id"] == ["client-id-42"]
        assert f["x-keep"] == ["yes"] and f["authorization"] == ["Bearer k"]
        assert f["content-type"] == ["application/json"]
    finally:
        g.stop()
        up.close()


def test_request_id_generated_when_invalid_and_sent_upstream():
    up = Upstream(lambda c, i, req: answer(c))
    g = Gateway(config(backend_yaml("b", [up.addr]), [("r", "/", "b")]))
    try:
        for bad in ("has space", "x" * 129, ""):
            status, headers, _ = harness.request(g.addr, "GET", "/v1/models", headers={"x-request-id": bad})
            assert status == 200
            rid = headers["x-request-id"]
            assert re.fullmatch(r"[0-9a-f]{32}", rid), rid
            assert head_fields(up.requests[-1][0])["x-request-id"] == [rid]
        status, headers, _ = harness.request(g.addr, "GET", "/v1/models", headers={"x-request-id": "a" * 128})
        assert headers["x-request-id"] == "a" * 128
        # a GET carries no body and no content-length
        assert "content-length" not in head_fields(up.requests[-1][0]) and up.requests[-1][1] == b""
    finally:
        g.stop()
        up.close()


def test_response_hop_by_hop_fields_are_dropped():
    def handler(c, i, req):
        answer(c, body=b"{}", headers=[("Connection", "X-Up-Hop"), ("X-Up-Hop", "1"), ("Keep-Alive", "timeout=9"),
                                       ("Upgrade", "h2c"), ("X-Up-Keep", "2"), ("Server", "upstream/1.0"),
                                       ("X-Request-Id", "upstream-made-this")])
    up = Upstream(handler)
    g = Gateway(config(backend_yaml("b", [up.addr]), [("r", "/", "b")]))
    try:
        status, headers, body = raw_request(g.addr, b"GET /x HTTP/1.1\r\nHost: h\r\nX-Request-Id: mine\r\n\r\n")
        assert status == "HTTP/1.1 200 OK" and body == b"{}"
        assert "x-up-hop" not in headers and "upgrade" not in headers
        assert headers.get("keep-alive") is None
        assert headers["x-up-keep"] == ["2"]
        assert headers["server"] == ["sluice"]
        assert headers["x-request-id"] == ["mine"]
        assert headers["connection"] == ["keep-alive"]  # h2o's own, for the client connection
    finally:
        g.stop()
        up.close()


def test_sse_stream_passes_through_with_usage_counted():
    s = sim(*ZERO, "--model", "llama-8b", "--output-tokens-mean", "8", "--output-tokens-max", "8")
    g = Gateway(config(backend_yaml("small", [s.addr], model="llama-8b"), [("chat", "/v1/chat/completions", "small")]))
    try:
        c = keepalive(g.addr)
        status, headers, body = post(c, "/v1/chat/completions",
                                     chat_body(stream=True, stream_options={"include_usage": True}))
        assert status == 200
        assert headers["content-type"].startswith("text/event-stream")
        text = body.decode()
        assert text.endswith("data: [DONE]\n\n")
        events = [json.loads(e[6:]) for e in text[:-2].split("\n\n")[:-1]]
        usage = events[-1]["usage"]
        assert all(e["model"] == "llama-8b" for e in events)
        # the keep-alive connection still works after the stream
        status, _, _ = post(c, "/v1/chat/completions", chat_body())
        assert status == 200
        assert g.metric("sluice_tokens_total", route="chat", backend="small", direction="output") >= \
            usage["completion_tokens"]
        assert g.metric("sluice_requests_total", route="chat", backend="small", code="2xx") == 2
    finally:
        g.stop()
        s.stop()


def test_head_keeps_length_sends_no_body_and_keeps_the_connection():
    def handler(c, i, req):
        if req[0].startswith(b"HEAD"):
            c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\ncontent-type: application/json\r\n\r\n")
        else:
            answer(c, body=b'{"second":true}')
    up = Upstream(handler)
    g = Gateway(config(backend_yaml("b", [up.addr]), [("r", "/", "b")]))
    try:
        data = (b"HEAD /v1/models HTTP/1.1\r\nHost: h\r\n\r\n"
                b"GET /v1/models HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        out = harness.raw_exchange(g.addr, data)
        first, second = out.split(b"HTTP/1.1 ", 2)[1:]
        assert first.startswith(b"200") and b"\r\ncontent-length: 1234\r\n" in first.lower()
        assert first.endswith(b"\r\n\r\n")  # nothing after the head of the HEAD answer
        assert second.startswith(b"200") and second.endswith(b'{"second":true}')
    finally:
        g.stop()
        up.close()


def curl(*args):
    r = subprocess.run(["curl", "-sS", "--max-time", "10"] + list(args), capture_output=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_http2_prior_knowledge_plain_and_stream():
    s = sim(*ZERO, "--model", "llama-8b", "--output-tokens-mean", "5", "--output-tokens-max", "5")
    g = Gateway(config(backend_yaml("small", [s.addr], model="llama-8b"), [("chat", "/v1/chat/completions", "small")]))
    try:
        url = f"http://{g.addr}/v1/chat/completions"
        out = curl("--http2-prior-knowledge", "-i", url, "-H", "content-type: application/json",
                   "-d", json.dumps(chat_body()))
        head, _, body = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/2 200")
        assert b"\r\nx-sluice-backend: small" in head
        assert json.loads(body)["model"] == "llama-8b"
        out = curl("--http2-prior-knowledge", "-N", url, "-d", json.dumps(chat_body(stream=True)))
        assert out.endswith(b"data: [DONE]\n\n") and out.count(b"data: ") >= 3
        out = curl("--http2-prior-knowledge", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://{g.addr}/none")
        assert out == b"404"
    finally:
        g.stop()
        s.stop()


def test_own_errors_400_404_413():
    s = sim(*ZERO, "--model", "llama-8b")
    g = Gateway(config(backend_yaml("small", [s.addr], model="llama-8b"), [("chat", "/v1/chat/completions", "small")],
                       server="max_body: 1KiB"))
    try:
        status, headers, body = harness.request(g.addr, "POST", "/v2/else", body=b"{}")
        assert status == 404 and headers["content-type"] == "application/json"
        assert error_of(body) == {"message": "no route matches this request", "type": "invalid_request_error",
                                  "code": "no_route"}
        assert int(headers["content-length"]) == len(body)
        status, _, body = harness.request(g.addr, "POST", "/v1/chat/completions", body=b'{"model":',
                                          headers={"content-type": "application/json"})
        assert status == 400 and error_of(body)["code"] == "invalid_json"
        status, _, body = harness.request(g.addr, "POST", "/v1/chat/completions",
                                          body=b'{"model":"a","model":"b"}', headers={"content-type": "application/json"})
        assert status == 400 and error_of(body)["code"] == "invalid_model"
        # a member a fact comes from, twice: sluice reads the first, a model server may read the last
        status, _, body = harness.request(g.addr, "POST", "/v1/chat/completions",
                                          body=b'{"messages":[],"stream":false,"stream":true}',
                                          headers={"content-type": "application/json"})
        assert status == 400 and error_of(body) == {"message": 'the request body has more than one "stream"',
                                                    "type": "invalid_request_error", "code": "invalid_request"}
        status, _, body = harness.request(g.addr, "POST", "/v1/chat/completions",
                                          body=b'{"model":5,"messages":[]}', headers={"content-type": "application/json"})
        assert status == 400 and error_of(body)["code"] == "invalid_model"
        big = json.dumps(chat_body("x" * 2000)).encode()
        status, headers, body = harness.request(g.addr, "POST", "/v1/chat/completions", body=big,
                                                headers={"content-type": "application/json"})
        assert status == 413 and headers["content-type"] == "application/json"
        assert error_of(body) == {"message": "the request body is too large", "type": "invalid_request_error",
                                  "code": "body_too_large"}
        # chunked upload growing past h2o's limit (max_body + 16 KiB): h2o stops reading and answers; the filter
        # makes it JSON
        status, headers, body = raw_request(g.addr, b"POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\n"
                                            b"Transfer-Encoding: chunked\r\n\r\n5000\r\n" + b"x" * 0x5000 +
                                            b"\r\n0\r\n\r\n")
        assert status == "HTTP/1.1 413 Request Entity Too Large"
        assert error_of(body)["code"] == "body_too_large"
        # h2o refuses a broken content-length itself: the same filter makes that JSON too
        status, headers, body = raw_request(g.addr, b"POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\n"
                                            b"Content-Length: 12x\r\n\r\n{}")
        assert status == "HTTP/1.1 400 Invalid Request" and headers["content-type"] == ["application/json"]
        assert error_of(body) == {"message": "the request is not valid HTTP", "type": "invalid_request_error",
                                  "code": "invalid_request"}
        # what h2o cannot parse into a request at all stays its own text answer (no filter sees it)
        status, headers, body = raw_request(g.addr, b"GARBAGE\r\n\r\n")
        assert status == "HTTP/1.1 400 Bad Request" and body == b"Bad Request"
        _, stats = harness.get_json(s.addr, "/sim/stats")
        assert stats["requests"] == 0  # none of these reached the model server
        assert g.metric("sluice_rejected_requests_total", reason="body_too_large") == 2
        assert g.metric("sluice_rejected_requests_total", reason="no_route") == 1
    finally:
        g.stop()
        s.stop()


def test_repeated_member_refused_when_the_route_is_found_before_the_facts():
    """Routes of two protocols and one matching on the model: the body is read for the model before routing, with no
    adapter, and the route's adapter reads its facts afterwards; a member repeated there is refused all the same."""
    s = sim(*ZERO)
    up = Upstream(lambda c, i, req: answer(c, body=b'{"label":"a"}'))
    backends = backend_yaml("chat", [s.addr]) + backend_yaml("svc", [up.addr], protocol="http",
                                                             extra="health: { enabled: false }")
    text = config(backends, [("svc", "/predict", "svc")])
    text += "  - { name: chat, match: { path: /v1/chat/completions, model: sim-model }, cascade: [ { backend: chat } ] }\n"
    g = Gateway(text)
    json_type = {"content-type": "application/json"}
    try:
        status, _, raw = harness.request(g.addr, "POST", "/v1/chat/completions", headers=json_type,
                                         body=b'{"model":"sim-model","messages":[{"role":"user","content":"hi"}]}')
        assert status == 200, raw
        status, _, raw = harness.request(g.addr, "POST", "/v1/chat/completions", headers=json_type,
                                         body=b'{"model":"sim-model","messages":[],"stream":false,"stream":true}')
        assert status == 400 and error_of(raw) == {"message": 'the request body has more than one "stream"',
                                                   "type": "invalid_request_error", "code": "invalid_request"}, raw
        status, _, raw = harness.request(g.addr, "POST", "/predict", headers=json_type,
                                         body=b'{"stream":false,"text":"x","stream":true}')
        assert status == 400 and json.loads(raw)["error"]["code"] == "invalid_request", raw
        assert len(up.requests) == 0
    finally:
        g.stop()
        s.stop()
        up.close()


def test_kserve_model_in_path_is_rewritten():
    s = sim(*ZERO, "--protocol", "kserve_v2", "--model", "intent", "--labels", "a,b")
    g = Gateway(config(backend_yaml("cls", [s.addr], model="intent", protocol="kserve_v2"),
                       [("infer", "/v2/models", "cls")]))
    try:
        body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["classify: hi"]}]}
        status, headers, doc, raw = harness.post_json(g.addr, "/v2/models/whatever/infer", body)
        assert status == 200, raw
        assert doc["model_name"] == "intent"
        status, _, raw = harness.request(g.addr, "GET", "/v2/nothing")
        assert status == 404 and error_of(raw)["code"] == "no_route"  # no route: the openai shape by default
    finally:
        g.stop()
        s.stop()


def test_http_route_model_rewritten_where_the_one_pass_read_found_it():
    """protocol http: the backend's model replaces the first "model" or is added; a repeated or non-string model is
    refused, a body that is not an object goes up as it came."""
    up = Upstream(lambda c, i, req: answer(c, body=b'{"label":"a","score":0.9}'))
    g = Gateway(config(backend_yaml("svc", [up.addr], model="m2", protocol="http", extra="health: { enabled: false }"),
                       [("svc", "/predict", "svc")]))
    json_type = {"content-type": "application/json"}
    try:
        sent = [(b'{"text":"caf\\u00e9","model":"a","opts":{"model":"inner"}}',
                 b'{"text":"caf\\u00e9","model":"m2","opts":{"model":"inner"}}'),
                (b'{"text":"hi"}', b'{"text":"hi","model":"m2"}'),
                (b' { } ', b' { "model":"m2"} '),
                (b'[{"model":"a"}]', b'[{"model":"a"}]')]
        for body, want in sent:
            status, _, raw = harness.request(g.addr, "POST", "/predict", body=body, headers=json_type)
            assert status == 200, raw
            assert up.requests[-1][1] == want
        for body in (b'{"model":"a","model":"b"}', b'{"model":5,"text":"x"}'):
            status, _, raw = harness.request(g.addr, "POST", "/predict", body=body, headers=json_type)
            assert status == 400 and json.loads(raw)["error"]["code"] == "invalid_model", raw  # the http shape
        status, _, raw = harness.request(g.addr, "POST", "/predict", body=b'{"stream":false,"text":"x","stream":true}',
                                         headers=json_type)
        assert status == 400 and json.loads(raw)["error"] == {"message": 'the request body has more than one "stream"',
                                                              "code": "invalid_request"}, raw
        status, _, raw = harness.request(g.addr, "POST", "/predict", body=b'{"text":', headers=json_type)
        assert status == 400 and json.loads(raw)["error"]["code"] == "invalid_json"
        assert len(up.requests) == len(sent)
    finally:
        g.stop()
        up.close()


def test_routing_headers_can_be_left_out_and_a_reload_brings_them_back():
    up = Upstream(lambda c, i, req: answer(c, status=503 if b"/fail" in req[0] else 200, body=b'{"id":1}'))
    routes = [("r", "/", "b")]
    backends = backend_yaml("b", [up.addr], extra="health: { enabled: false }, outlier: { consecutive_failures: 0 }")
    g = Gateway(config(backends, routes, server="routing_headers: false"))
    routing = ("x-sluice-backend", "x-sluice-tier", "x-sluice-escalations", "x-sluice-cost")
    try:
        for path, want in (("/v1/chat/completions", 200), ("/fail", 502)):
            status, headers, _ = harness.request(g.addr, "POST", path, body=json.dumps(chat_body()).encode(),
                                                 headers={"Content-Type": "application/json"})
            assert status == want
            assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])  # always returned
            for name in routing:
                assert name not in headers, (path, name)
        g.rewrite(config(backends, routes))  # the default: true
        status, _, body = harness.request(g.admin, "POST", "/admin/reload")
        assert status == 200, body
        status, headers, _ = harness.request(g.addr, "POST", "/v1/chat/completions",
                                             body=json.dumps(chat_body()).encode(),
                                             headers={"Content-Type": "application/json"})
        assert status == 200
        assert headers["x-sluice-backend"] == "b" and headers["x-sluice-tier"] == "0"
        assert headers["x-sluice-escalations"] == "0" and headers["x-sluice-cost"] == "0"
    finally:
        g.stop()
        up.close()
