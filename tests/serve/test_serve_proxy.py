"""The proxy middleware that answers 503 + Retry-After for requests lost with a replica.

Driven through a real ASGI stack (httpx's ASGI transport) with small raw ASGI apps standing in
for the Serve proxy's behaviours: a marked answer, the unmarked 500 Ray's proxy writes for a
dead replica, a proxy that raises, one that gives up without answering.
"""

import asyncio
import json

import httpx
import pytest

from setsel.distributed.serve_proxy import APP_HEADER, RETRY_AFTER_S, ReplicaLossAs503, proxy_middlewares


def _app(status=None, marked=False, body=b"x", raise_first=False):
    async def app(scope, receive, send):
        if raise_first:
            raise RuntimeError("replica died")
        if status is None:
            return
        headers = [(b"content-type", b"text/plain")] + ([(APP_HEADER.encode(), b"1")] if marked else [])
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
    return app


def _get(app):
    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ReplicaLossAs503(app)),
                                     base_url="http://t") as client:
            return await client.post("/v1/select", json={"question": "q"})
    return asyncio.run(go())


def test_an_unmarked_500_from_the_proxy_becomes_503_with_retry_after():
    r = _get(_app(500, body=b"RayActorError: The actor died unexpectedly"))
    assert r.status_code == 503
    assert r.headers["retry-after"] == str(RETRY_AFTER_S)
    assert r.json() == {"error": "selection replica lost while answering; retry", "retry_after_s": RETRY_AFTER_S}


def test_the_apps_own_answers_pass_unchanged_including_its_500():
    ok = _get(_app(200, marked=True, body=b"hello"))
    assert (ok.status_code, ok.text) == (200, "hello")
    bug = _get(_app(500, marked=True, body=b"internal error: KeyError"))
    assert (bug.status_code, bug.text) == (500, "internal error: KeyError")
    client_error = _get(_app(422, body=b"bad"))       # unmarked non-500 statuses (the proxy's 404) pass too
    assert (client_error.status_code, client_error.text) == (422, "bad")


@pytest.mark.parametrize("app", [_app(raise_first=True), _app(status=None)], ids=["proxy raises", "no answer"])
def test_a_proxy_that_raises_or_gives_up_answers_503(app):
    r = _get(app)
    assert r.status_code == 503 and r.headers["retry-after"] == str(RETRY_AFTER_S)
    assert json.loads(r.text)["error"].startswith("selection replica lost")


def test_non_http_scopes_pass_through():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    asyncio.run(ReplicaLossAs503(app)({"type": "lifespan"}, None, None))
    assert seen == ["lifespan"]


def test_the_installed_middlewares():
    [m] = proxy_middlewares()
    assert m.cls is ReplicaLossAs503
