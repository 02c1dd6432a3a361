"""The selector endpoint under a real ``serve.run`` on 127.0.0.1.

One Serve instance for the module with three applications:
- ``/``        topk by default (cheap for fuzzing) + SetR on the embedded SmolLM2 + the shipped
               llm_head selector, no auth;
- ``/locked``  topk only, bearer token required (key given to the replica's env);
- ``/broken``  SetR on an OpenAI-compatible engine whose server does not exist → 503.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import socket
import time

import pytest

pytestmark = [pytest.mark.slow]

httpx = pytest.importorskip("httpx")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(ray_local, tmp_path_factory):
    from ray import serve

    from setsel.retrieval.job import IndexJobConfig, run_index

    index_dir = tmp_path_factory.mktemp("serve_index") / "demo-bm25"  # /v1/search retrieves from it
    run_index(IndexJobConfig(dataset="demo", out=str(index_dir), retriever="bm25", progress=False))

    from setsel.config import build_config
    from setsel.distributed.serve import SelectorDeployment
    from setsel.distributed.serve_schema import ServeAppConfig

    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})   # setsel's proxy middleware: set by init_ray
    open_cfg = build_config(ServeAppConfig, {"model": "hf:smollm2-135m", "method": "topk", "variant": None,
                                       "allowed_methods": ["setr", "topk", "llm_head"],
                                       "selector_options": {}, "limits": {"max_passages": 30},
                                       "index": str(index_dir)})
    small = {"num_cpus": 0.25}
    locked_cfg = build_config(ServeAppConfig, {"method": "topk", "variant": None, "allowed_methods": ["topk"],
                                         "selector_options": {"k": 2}, "api_key_env": "SETSEL_TEST_KEY"})
    broken_cfg = build_config(ServeAppConfig, {"model": "openai:nothing@http://127.0.0.1:9/v1", "method": "setr",
                                         "variant": "selection_only", "allowed_methods": ["setr"],
                                         "engine_options": {"max_retries": 0, "timeout": 2.0}})
    serve.run(SelectorDeployment.options(name="Open", ray_actor_options=small).bind(open_cfg), name="open", route_prefix="/")
    serve.run(
        SelectorDeployment.options(
            name="Locked",
            ray_actor_options={**small, "runtime_env": {"env_vars": {"SETSEL_TEST_KEY": "s3cret"}}},
        ).bind(locked_cfg),
        name="locked",
        route_prefix="/locked",
    )
    serve.run(SelectorDeployment.options(name="Broken", ray_actor_options=small).bind(broken_cfg), name="broken", route_prefix="/broken")
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=120.0) as client:
        yield client
    serve.shutdown()


def _demo_request(i: int = 0, **extra):
    from setsel.datasets.demo import load_demo

    c = load_demo()[i]
    return {"question": c.query.question,
            "passages": [{"id": p.id, "title": p.title, "text": p.text} for p in c.passages], **extra}, c


def test_health_models_openapi(server):
    assert server.get("/healthz").json() == {"status": "ok"}
    models = server.get("/v1/models").json()
    assert models["model"] == "hf:smollm2-135m" and models["methods"] == ["setr", "topk", "llm_head"]
    schema = server.get("/openapi.json").json()
    assert "/v1/select" in schema["paths"]


def test_select_with_embedded_model(server):
    body, cands = _demo_request(0, method="setr", variant="selection_only")
    r = server.post("/v1/select", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["method"] == "setr"
    assert out["parse_status"] in ("ok", "repaired")
    assert out["fallback_used"] is None  # the selection constraint makes every output parse
    assert 1 <= len(out["selected"]) <= len(cands.passages)
    assert set(out["selected"]) <= set(cands.ids) and len(set(out["selected"])) == len(out["selected"])
    assert [p["id"] for p in out["passages"]] == out["selected"]
    assert out["usage"]["prompt_tokens"] > 100 and out["usage"]["completion_tokens"] > 0


def test_select_with_the_shipped_trained_selector(server):
    # the default of configs/serve.yaml: the shipped llm_head model, no engine, nothing to parse
    body, cands = _demo_request(3, method="llm_head", max_passages=3)
    r = server.post("/v1/select", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["method"] == "llm_head" and out["parse_status"] == "ok" and out["fallback_used"] is None
    assert 1 <= len(out["selected"]) <= 3 and set(out["selected"]) <= set(cands.ids)
    assert out["usage"]["prompt_tokens"] > 100 and out["usage"]["completion_tokens"] == 0


def test_max_passages_enforced(server):
    body, _ = _demo_request(1, method="setr", variant="selection_only", max_passages=2)
    out = server.post("/v1/select", json=body).json()
    assert 1 <= len(out["selected"]) <= 2


def test_topk_override(server):
    body, cands = _demo_request(2)  # the app's default method
    out = server.post("/v1/select", json=body).json()
    assert out["method"] == "topk" and out["selected"] == cands.ids[:5]


@pytest.mark.parametrize(
    "mutate,status",
    [
        (lambda b: b["passages"].extend(b["passages"][0:1] * 40), 413),  # 31+ passages > 30
        (lambda b: b["passages"][0].update(text="w" * 20_001), 422),
        (lambda b: b.update(question="q" * 2_001), 422),
        (lambda b: b.update(method="nope"), 422),
        (lambda b: b.update(passages=[]), 422),
        (lambda b: b.update(max_passages=0), 422),
        (lambda b: b.update(extra_field=1), 422),
        (lambda b: b.pop("question"), 422),
        # client mistakes about methods and options: 422 naming the valid choices, never 503 (issue 21)
        (lambda b: b.update(variant="iri"), 422),                      # topk takes no variant
        (lambda b: b.update(method="setr", variant="bogus"), 422),     # not a setr variant
        (lambda b: b.update(method="llm_head", variant="iri"), 422),   # llm_head takes no variant
        (lambda b: b.update(max_passages=10**30), 422),                # over limits.max_passages
    ],
)
def test_limits(server, mutate, status):
    body, _ = _demo_request(0)
    mutate(body)
    r = server.post("/v1/select", json=body)
    assert r.status_code == status, r.text
    assert "error" in r.json()


def test_client_mistakes_name_the_valid_choices(server):
    body, _ = _demo_request(0, method="setr", variant="bogus")
    r = server.post("/v1/select", json=body)
    assert r.status_code == 422 and "retry-after" not in r.headers
    assert "selection_only" in r.json()["error"] and "iri" in r.json()["error"]
    body, _ = _demo_request(0, variant="iri")
    assert "valid options" in server.post("/v1/select", json=body).json()["error"]
    body, _ = _demo_request(0, max_passages=31)
    assert "limit of 30" in server.post("/v1/select", json=body).json()["error"]


def test_fuzz_methods_variants_and_budgets_never_5xx(server):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    body, _ = _demo_request(5)
    methods = st.sampled_from(["topk", "llm_head", "setr", "optiset", "mmr", "nope", ""]) | st.none()
    variants = st.sampled_from(["selection_only", "iri", "cot", "trained", "bogus", ""]) | st.none() | st.text(max_size=8)
    budgets = st.none() | st.integers(min_value=-3, max_value=10**31)

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(method=methods, variant=variants, max_passages=budgets)
    def check(method, variant, max_passages):
        extra = {k: v for k, v in (("method", method), ("variant", variant), ("max_passages", max_passages))
                 if v is not None}
        r = server.post("/v1/select", json={**body, **extra})
        assert r.status_code < 500, (extra, r.status_code, r.text)

    check()


def test_body_size_limit(server):
    big = b'{"question": "q", "passages": [' + b'{"id": "x", "text": "' + b"a" * 2_100_000 + b'"}]}'
    r = server.post("/v1/select", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "error" in r.json()


def test_auth(server):
    body, cands = _demo_request(0)
    assert server.post("/locked/v1/select", json=body).status_code == 401
    assert server.post("/locked/v1/select", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = server.post("/locked/v1/select", json=body, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["selected"] == cands.ids[:2]
    assert server.get("/locked/healthz").status_code == 200  # health stays open
    # Auth off on the open app: no header needed.
    assert server.post("/v1/select", json=body).status_code == 200


def test_a_replica_lost_mid_request_answers_503_with_retry_after_then_200(server):
    """A replica killed with a request in flight: Ray's proxy would answer 500 (RayActorError);
    setsel's proxy middleware answers 503 + Retry-After, and Serve's replacement answers 200."""
    import threading

    import ray
    import ray._private.state as state
    from ray import serve

    from setsel.config import build_config
    from setsel.distributed.serve import SelectorDeployment
    from setsel.distributed.serve_schema import ServeAppConfig

    # Each request waits 3 s in the replica's batch queue: in flight when the replica dies.
    cfg = build_config(ServeAppConfig, {"method": "topk", "variant": None, "allowed_methods": ["topk"],
                                        "selector_options": {"k": 2},
                                        "batching": {"max_batch_size": 8, "batch_wait_timeout_s": 3.0}})
    serve.run(SelectorDeployment.options(name="Doomed", ray_actor_options={"num_cpus": 0.25},
                                         health_check_period_s=1).bind(cfg), name="doomed", route_prefix="/doomed")
    body, _ = _demo_request()
    first = server.post("/doomed/v1/select", json=body)
    assert first.status_code == 200 and first.headers["x-setsel"] == "1"   # the app marks what it writes
    replica = [a for a in state.actors().values() if "Doomed" in str(a.get("ActorClassName", ""))
               and a.get("State") in ("ALIVE", 2)]
    assert len(replica) == 1, replica
    got = {}
    t = threading.Thread(target=lambda: got.update(r=server.post("/doomed/v1/select", json=body)))
    t.start()
    time.sleep(1.0)
    ray.kill(ray.get_actor(replica[0]["Name"], namespace="serve"), no_restart=True)
    t.join(timeout=60)
    lost = got["r"]
    assert lost.status_code == 503, (lost.status_code, lost.text)
    assert lost.headers["retry-after"].isdigit() and "replica lost" in lost.json()["error"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:   # Serve replaces the replica; the route answers 200 again
        again = server.post("/doomed/v1/select", json=body)
        if again.status_code == 200:
            break
        assert again.status_code == 503, (again.status_code, again.text)
        time.sleep(1.0)
    assert again.status_code == 200
    serve.delete("doomed")


def test_engine_failure_is_503_and_replica_survives(server):
    body, _ = _demo_request(0)
    r = server.post("/broken/v1/select", json=body)
    assert r.status_code == 503 and r.headers.get("retry-after") == "5"
    assert server.get("/broken/healthz").status_code == 200
    assert server.post("/broken/v1/select", json=body).status_code == 503


def test_200_concurrent_requests(server):
    body, cands = _demo_request(3)

    def call(_):
        return server.post("/v1/select", json=body)

    with cf.ThreadPoolExecutor(max_workers=32) as pool:
        responses = list(pool.map(call, range(200)))
    assert [r.status_code for r in responses].count(200) == 200
    assert all(r.json()["selected"] == cands.ids[:5] for r in responses)


def test_fuzz_malformed_bodies_only_4xx(server):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=12,
    )
    passage = st.fixed_dictionaries({}, optional={"id": json_values, "title": json_values, "text": json_values})
    almost = st.fixed_dictionaries(
        {},
        optional={"question": json_values, "passages": st.lists(passage, max_size=3) | json_values,
                  "method": json_values, "max_passages": json_values, "variant": json_values},
    )
    bodies = st.one_of(
        json_values.map(lambda v: json.dumps(v).encode()),
        almost.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
    )
    statuses: list[int] = []

    @settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(bodies)
    def check(raw: bytes):
        r = server.post("/v1/select", content=raw, headers={"content-type": "application/json"})
        statuses.append(r.status_code)
        assert r.status_code < 500, (raw[:200], r.status_code, r.text[:200])
        if r.status_code != 200:
            assert 400 <= r.status_code < 500 and "error" in r.json()

    check()
    assert len(statuses) >= 500
    assert sum(400 <= s < 500 for s in statuses) >= 450  # nearly all generated bodies are invalid
    assert server.get("/healthz").status_code == 200


def test_search_retrieves_from_the_index_then_selects(server):
    from setsel.datasets.demo import load_demo
    from setsel.retrieval.corpus import content_id

    c = load_demo()[0]
    r = server.post("/v1/search", json={"question": c.query.question, "k": 6, "method": "topk"})
    assert r.status_code == 200, r.text
    body = r.json()
    gold = {content_id(p.title, p.text) for p in c.passages if p.id in c.query.gold_passage_ids}
    assert 1 <= len(body["selected"]) <= 6 and set(body["selected"]) & gold
    assert all(i.startswith("p-") for i in body["selected"])   # ids of the pooled corpus
    assert server.post("/locked/v1/search", json={"question": "x"},
                       headers={"authorization": "Bearer s3cret"}).status_code == 404   # no index there
    assert server.post("/v1/search", json={"question": "x", "k": 0}).status_code == 422


def test_typed_client_and_a_framework_component_against_the_live_endpoint(server):
    from setsel.client import SetselClient, SetselClientError

    base = str(server.base_url).rstrip("/")
    body, cands = _demo_request(1)
    with SetselClient(base, timeout=60) as client:
        res = client.select(body["question"], body["passages"], method="topk", max_passages=3)
        assert res.selected == cands.ids[:3] and res.method == "topk" and res.passages[0]["id"] == cands.ids[0]
        found = client.search(body["question"], k=6, method="topk")
        assert 1 <= len(found.selected) <= 6 and all(i.startswith("p-") for i in found.selected)
        with pytest.raises(SetselClientError, match="HTTP 422.*allowed") as bad:  # a client mistake: no retry
            client.select(body["question"], body["passages"], method="nope")
        assert bad.value.status == 422
    with SetselClient(f"{base}/locked", api_key="s3cret") as locked:
        assert locked.select(body["question"], body["passages"]).selected == cands.ids[:2]
    with SetselClient(f"{base}/locked", api_key="wrong") as wrong, pytest.raises(SetselClientError, match="HTTP 401"):
        wrong.select(body["question"], body["passages"])
    with SetselClient(f"{base}/broken", max_retries=1, max_wait=0.1) as broken:
        with pytest.raises(SetselClientError, match=r"HTTP 503.*after 2 attempts") as down:
            broken.select(body["question"], body["passages"])
        assert down.value.status == 503
    # a LangChain compressor backed by the remote endpoint selects what the endpoint selects
    pytest.importorskip("langchain_core")
    from langchain_core.documents import Document

    from setsel.integrations.langchain import SetselCompressor

    with SetselClient(base) as client:
        comp = SetselCompressor.from_selector(client, method="topk", max_passages=2)
        docs = [Document(page_content=p["text"], metadata={"id": p["id"], "title": p["title"]}) for p in body["passages"]]
        assert [d.metadata["id"] for d in comp.compress_documents(docs, body["question"])] == cands.ids[:2]


def test_the_apps_own_500_is_marked_so_the_proxy_keeps_it_a_500():
    import asyncio

    from starlette.requests import Request

    from setsel.distributed.serve import _unexpected

    request = Request({"type": "http", "method": "POST", "path": "/v1/select", "headers": [], "query_string": b""})
    response = asyncio.run(_unexpected(request, KeyError("k")))
    assert response.status_code == 500 and response.headers["x-setsel"] == "1"
    assert json.loads(response.body) == {"error": "internal error: KeyError"}
