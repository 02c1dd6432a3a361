"""A small OpenAI-wire-format HTTP server on 127.0.0.1, backed by a real hf engine (tests only).

Routes: ``POST /v1/chat/completions`` (n, temperature, top_p, max_tokens, seed, stop,
``structured_outputs.regex`` / ``guided_regex``, ``continue_final_message`` for an assistant
prefix) and ``POST /v1/completions`` with ``echo`` + ``logprobs`` (per-token log-probs of the
prompt with text offsets, as vLLM answers them; ``echo`` false → 400).

Failure modes for the client's error handling (set on the server object):
``fail_next = k`` answers the next k requests with 503; ``rate_limit_next = k`` with 429
(``Retry-After: 0``); ``mode = "malformed"`` answers 200 with a body that is not JSON;
``constraints = "ignore"`` generates without the regex it was sent (as vLLM ≥ 0.12 does
with ``guided_regex``), ``constraints = "reject"`` answers 400 to a request that carries one.
``requests`` counts every POST; ``max_inflight`` is the most requests seen at once
(``delay_s`` holds each request that long, to observe concurrency).

Example:
    with OpenAIWireServer(engine) as srv:
        load_engine(f"openai:tiny@{srv.base_url}").generate(...)
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from setsel.types import GenerationParams, RegexConstraint


class OpenAIWireServer:
    def __init__(self, engine):
        self.engine = engine
        self.lock = threading.Lock()  # the engine runs one request at a time
        self.count_lock = threading.Lock()
        self.requests = 0
        self.inflight = 0
        self.max_inflight = 0
        self.fail_next = 0
        self.rate_limit_next = 0
        self.mode = "ok"
        self.constraints = "honour"
        self.delay_s = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.count_lock:
                    outer.requests += 1
                    outer.inflight += 1
                    outer.max_inflight = max(outer.max_inflight, outer.inflight)
                    fail, limited = outer.fail_next > 0, outer.fail_next <= 0 and outer.rate_limit_next > 0
                    outer.fail_next -= fail
                    outer.rate_limit_next -= limited
                try:
                    time.sleep(outer.delay_s)
                    if fail:
                        return self._send(503, b'{"error": {"message": "overloaded"}}')
                    if limited:
                        return self._send(429, b'{"error": {"message": "slow down"}}', {"Retry-After": "0"})
                    if outer.mode == "malformed":
                        return self._send(200, b'{"id": "x", "choices": [ {"message": oops')
                    try:
                        req = json.loads(raw)
                    except json.JSONDecodeError:
                        return self._send(400, b'{"error": {"message": "request body is not JSON"}}')
                    if self.path.endswith("/chat/completions"):
                        status, body = outer._chat(req)
                    elif self.path.endswith("/completions"):
                        status, body = outer._completions(req)
                    else:
                        status, body = 404, {"error": {"message": f"no route {self.path}"}}
                    self._send(status, json.dumps(body).encode())
                finally:
                    with outer.count_lock:
                        outer.inflight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "OpenAIWireServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def _chat(self, req: dict) -> tuple[int, dict]:
        messages = list(req["messages"])
        prefix = None
        if req.get("continue_final_message") and messages and messages[-1]["role"] == "assistant":
            prefix = messages.pop()["content"]
        regex = (req.get("structured_outputs") or {}).get("regex") or req.get("guided_regex")
        if regex and self.constraints == "reject":
            return 400, {"error": {"message": "unknown field: structured_outputs / guided_regex"}}
        if self.constraints == "ignore":
            regex = None
        if req.get("response_format"):
            return 400, {"error": {"message": "response_format is not supported by this server"}}
        stop = req.get("stop") or ()
        params = GenerationParams(
            n=req.get("n", 1), temperature=req.get("temperature", 1.0), top_p=req.get("top_p", 1.0),
            max_tokens=req.get("max_tokens", 16), seed=req.get("seed"),
            stop=(stop,) if isinstance(stop, str) else tuple(stop),
            constraint=RegexConstraint(regex) if regex else None, prefix=prefix,
        )
        with self.lock:
            [samples] = self.engine.generate([messages], params)
        cut = len(prefix or "")
        completion_tokens = sum(c.completion_tokens for c in samples)
        return 200, {
            "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": req["model"],
            "choices": [{"index": i, "message": {"role": "assistant", "content": c.text[cut:]},
                         "finish_reason": c.finish_reason} for i, c in enumerate(samples)],
            "usage": {"prompt_tokens": samples[0].prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": samples[0].prompt_tokens + completion_tokens},
        }

    def _completions(self, req: dict) -> tuple[int, dict]:
        import torch

        if not req.get("echo") or not req.get("logprobs"):
            return 400, {"error": {"message": "this test server only answers echo + logprobs requests"}}
        tok, model, text = self.engine.tokenizer, self.engine.model, req["prompt"]
        enc = tok(text, return_offsets_mapping=True, add_special_tokens=False)
        ids = enc["input_ids"]
        with self.lock, torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids])).logits[0].float()
        lps = torch.log_softmax(logits, -1)
        token_logprobs = [None] + [float(lps[i - 1, ids[i]]) for i in range(1, len(ids))]
        return 200, {
            "id": "cmpl-test", "object": "text_completion", "created": int(time.time()), "model": req["model"],
            "choices": [{"index": 0, "text": text, "finish_reason": "length",
                         "logprobs": {"tokens": [tok.decode([i]) for i in ids], "token_logprobs": token_logprobs,
                                      "text_offset": [s for s, _ in enc["offset_mapping"]], "top_logprobs": None}}],
            "usage": {"prompt_tokens": len(ids), "completion_tokens": 0, "total_tokens": len(ids)},
        }
