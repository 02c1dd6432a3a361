"""The openai engine against a real OpenAI-wire-format HTTP server on 127.0.0.1.

The server (tests/helpers/openai_server.py) runs the hf engine on the tiny random Llama, so
answers can be compared with the backend called directly.
"""

import time

import pytest
from helpers.openai_server import OpenAIWireServer

from setsel.engines import (
    ContextLengthError,
    EngineError,
    GenerationParams,
    NotSupportedError,
    RegexConstraint,
    SelectionConstraint,
    load_engine,
)

pytestmark = [pytest.mark.timeout(120)]

MSG = [{"role": "user", "content": "Say hello."}]
MSG2 = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a river."}]


@pytest.fixture(scope="module")
def server(tiny_engine, tiny_model_dir):
    with OpenAIWireServer(tiny_engine) as srv:
        srv.engine_dir = tiny_model_dir
        yield srv


@pytest.fixture
def srv(server):
    """The shared server, reset to healthy after each test."""
    yield server
    server.fail_next = server.rate_limit_next = 0
    server.mode, server.delay_s, server.constraints = "ok", 0.0, "honour"


def _client(server, **kw):
    kw.setdefault("backoff", 0.05)
    return load_engine(f"openai:tiny@{server.base_url}", **kw)


def test_answers_match_the_backend(srv):
    eng = _client(srv)
    params = GenerationParams(max_tokens=8)
    outs = eng.generate([MSG, MSG2], params)
    direct = srv.engine.generate([MSG, MSG2], params)
    assert [o[0].text for o in outs] == [d[0].text for d in direct]
    assert [o[0].prompt_tokens for o in outs] == [d[0].prompt_tokens for d in direct]
    assert [o[0].finish_reason for o in outs] == [d[0].finish_reason for d in direct]


def test_n_samples_seed_and_prefix(srv):
    eng = _client(srv, tokenizer=str(srv.engine_dir))
    params = GenerationParams(n=3, temperature=1.0, seed=4, max_tokens=6)
    [a], [b] = eng.generate([MSG], params), eng.generate([MSG], params)
    assert len(a) == 3 and [c.text for c in a] == [c.text for c in b]
    direct = srv.engine.generate([MSG], params)[0]
    assert [c.text for c in a] == [c.text for c in direct]
    [[one]] = eng.generate([MSG], params.replace(n=1))
    assert one.completion_tokens == srv.engine.generate([MSG], params.replace(n=1))[0][0].completion_tokens
    pref = GenerationParams(max_tokens=10, prefix="Answer:", constraint=RegexConstraint(r" (yes|no)"))
    [[c]] = eng.generate([MSG], pref)
    assert c.text in ("Answer: yes", "Answer: no")


def test_selection_constraint_through_structured_outputs(srv):
    from setsel.prompts import parse_selection

    for style in ("structured_outputs", "guided"):
        eng = _client(srv, constraint_style=style)
        [[c]] = eng.generate([MSG], GenerationParams(max_tokens=20, constraint=SelectionConstraint(4, 2)))
        parsed = parse_selection(c.text, 4)
        assert c.text.startswith("### Final Selection: [")
        assert parsed.status in ("ok", "repaired") and 1 <= len(parsed.ids) <= 2
        assert all(1 <= i <= 4 for i in parsed.ids)


def test_json_schema_style_on_a_server_without_it_falls_back_and_says_so(srv, caplog):
    eng = _client(srv, constraint_style="json_schema")
    with caplog.at_level("WARNING", logger="setsel.engines.openai_engine"):
        [[c]] = eng.generate([MSG], GenerationParams(max_tokens=5, constraint=SelectionConstraint(4)))
    assert "HTTP 400" in eng.constraint_disabled and "response_format" in eng.constraint_disabled
    assert eng.unconstrained_replies == 1 and c.completion_tokens > 0
    assert sum("did not honour" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("behaviour,why", [("ignore", "does not match the regex sent"),
                                           ("reject", "the request was refused")])
def test_a_server_that_ignores_or_refuses_the_constraint_is_detected_once(srv, caplog, behaviour, why):
    srv.constraints = behaviour
    eng = _client(srv)  # structured_outputs
    params = GenerationParams(max_tokens=12, constraint=SelectionConstraint(4, 2))
    with caplog.at_level("WARNING", logger="setsel.engines.openai_engine"):
        first = eng.generate([MSG, MSG2], params)
        second = eng.generate([MSG], params)
    assert why in eng.constraint_disabled
    warnings = [r.getMessage() for r in caplog.records if "did not honour" in r.getMessage()]
    assert len(warnings) == 1 and srv.base_url in warnings[0]
    # every reply made without its constraint is counted (the random tiny model never writes the header)
    assert eng.unconstrained_replies == 3 and len(first) == 2 and len(second) == 1
    assert not any(c.text.startswith("### Final Selection: [") for [c] in first + second)


def test_an_honoured_constraint_is_not_flagged(srv):
    eng = _client(srv)
    eng.generate([MSG, MSG2], GenerationParams(max_tokens=20, constraint=SelectionConstraint(4, 2)))
    assert eng.constraint_disabled is None and eng.unconstrained_replies == 0


def test_503_twice_then_success_is_retried(srv):
    eng = _client(srv, max_retries=3)
    before = srv.requests
    srv.fail_next = 2
    [[c]] = eng.generate([MSG], GenerationParams(max_tokens=4))
    assert srv.requests - before == 3
    assert eng.retries == 2
    assert c.text == srv.engine.generate([MSG], GenerationParams(max_tokens=4))[0][0].text


def test_429_is_retried(srv):
    eng = _client(srv, max_retries=2)
    before = srv.requests
    srv.rate_limit_next = 1
    eng.generate([MSG], GenerationParams(max_tokens=4))
    assert srv.requests - before == 2 and eng.retries == 1


def test_gives_up_after_max_retries_with_clear_error(srv):
    eng = _client(srv, max_retries=1)
    before = srv.requests
    srv.fail_next = 5
    with pytest.raises(EngineError, match="HTTP 503 after 2 attempts"):
        eng.generate([MSG], GenerationParams(max_tokens=4))
    assert srv.requests - before == 2


def test_malformed_json_is_clear_error_without_hang(srv):
    eng = _client(srv, max_retries=3, timeout=10)
    before = srv.requests
    srv.mode = "malformed"
    t0 = time.monotonic()
    with pytest.raises(EngineError, match="malformed"):
        eng.generate([MSG], GenerationParams(max_tokens=4))
    assert time.monotonic() - t0 < 5
    assert srv.requests - before == 1  # not retried


def test_concurrency_is_bounded(srv):
    eng = _client(srv, concurrency=2)
    srv.delay_s, srv.max_inflight = 0.3, 0
    outs = eng.generate([MSG] * 6, GenerationParams(max_tokens=2))
    assert len(outs) == 6
    assert srv.max_inflight == 2


def test_score_through_echo_matches_hf(srv):
    eng = _client(srv, tokenizer=str(srv.engine_dir))
    conts = ["Hello there, friend.", "No.", "The Nile is long."]
    prompts = [MSG, MSG, MSG2]
    via_server = eng.score(prompts, conts)
    direct = srv.engine.score(prompts, conts)
    for a, b in zip(via_server, direct):
        assert a.tokens == b.tokens
        assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-4)


def test_score_needs_template_and_echo(srv):
    with pytest.raises(NotSupportedError, match="tokenizer"):
        _client(srv).score([MSG], ["x"])


def test_context_checked_with_tokenizer(srv):
    eng = _client(srv, tokenizer=str(srv.engine_dir), max_context=40)
    before = srv.requests
    with pytest.raises(ContextLengthError, match="exceed the context of 40"):
        eng.generate([[{"role": "user", "content": "word " * 50}]], GenerationParams(max_tokens=4))
    assert srv.requests == before


def test_connection_refused_is_engine_error():
    eng = load_engine("openai:none@http://127.0.0.1:9/v1", max_retries=1, backoff=0.01, timeout=2)
    with pytest.raises(EngineError, match="APIConnectionError after 2 attempts"):
        eng.generate([MSG], GenerationParams(max_tokens=2))
    assert eng.retries == 1


@pytest.mark.parametrize("spec", ["gpt-4o", "@http://x/v1", "m@ftp://x"])
def test_bad_ids_and_options(spec):
    with pytest.raises(ValueError, match="openai:<model>@<base_url>"):
        load_engine(f"openai:{spec}")
    with pytest.raises(ValueError, match="constraint_style"):
        load_engine("openai:m@http://127.0.0.1:9/v1", constraint_style="xml")


def test_json_schema_request_and_answer_mapping():
    eng = load_engine("openai:m@http://127.0.0.1:9/v1", constraint_style="json_schema")
    sel = SelectionConstraint(4, 2)
    body, extra = eng._constraint_request(sel)
    schema = extra["response_format"]["json_schema"]["schema"]
    assert body == {} and schema["properties"]["selection"]["maxItems"] == 2
    assert schema["properties"]["selection"]["items"]["maximum"] == 4
    assert eng._from_json('{"selection": [3, 1]}', sel) == "### Final Selection: [3] [1]"
    assert eng._from_json("not json", sel) == "not json"  # left for the parser to flag
    _, extra = eng._constraint_request(RegexConstraint(r"yes|no"))
    assert extra["response_format"]["json_schema"]["schema"]["properties"]["text"]["pattern"] == "^(?:yes|no)$"
    assert eng._from_json('{"text": "yes"}', RegexConstraint(r"yes|no")) == "yes"
