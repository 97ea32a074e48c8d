"""Optional LLM scorer against a real HTTP server on 127.0.0.1: blend, timeouts, off by default."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tierline.core.llm import LlmConfig, LlmError
from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.llm_opinion import LlmScorer, llm_from_env, parse_answer
from tierline.segmentation.outcome_layer import Adapter
from tierline.segmentation.records import TurnEvidence
from tierline.segmentation.tier import TierScorer


class _Handler(BaseHTTPRequestHandler):
    answer = '{"tier": "high", "value": 88, "reason": "big budget"}'
    delay = 0.0
    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, body))
        time.sleep(self.delay)
        data = json.dumps({"choices": [{"message": {"content": self.answer}}]}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    handler = type("H", (_Handler,), {"seen": [], "delay": 0.0})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    # shutdown() waits for the next poll: 0.5 s by default, after every test
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield srv, handler, f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def ev(text: str) -> TurnEvidence:
    return TurnEvidence({"other": 1.0}, text=text)


def test_opinion_is_blended_into_the_next_update(server):
    _, handler, url = server
    llm = LlmScorer(LlmConfig(url, timeout_s=2.0), weight=0.5)
    s = TierScorer(CustomerProfile(), adapter=Adapter(), llm=llm)
    first = s.update(ev("你好"))
    llm.wait(5)
    second = s.update(ev("嗯"))
    assert second.scores["high"] > first.scores["high"] + 0.2
    assert any(r.startswith("LLM: high, value 88") for r in second.reasons)
    path, body = handler.seen[0]
    assert path == "/v1/chat/completions"
    assert body["messages"][0]["role"] == "system" and "你好" in body["messages"][-1]["content"]
    assert len(body["messages"]) == 2 + 2 * 4  # system, few-shot pairs, the call


def test_slow_endpoint_never_stalls_a_turn(server):
    _, handler, url = server
    handler.delay = 2.0
    llm = LlmScorer(LlmConfig(url, timeout_s=0.5))
    s = TierScorer(CustomerProfile(), adapter=Adapter(), llm=llm)
    t0 = time.perf_counter()
    for text in ("你好", "价格多少", "我再想想"):
        update = s.update(ev(text))
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.4  # three turns while the endpoint sleeps 2 s per request
    assert not any(r.startswith("LLM") for r in update.reasons)
    llm.wait(3)
    assert llm.last_error and "failed" in llm.last_error


def test_unusable_answers_are_ignored(server):
    _, handler, url = server
    handler.answer = "I think this caller is great"
    llm = LlmScorer(LlmConfig(url, timeout_s=2.0))
    with pytest.raises(LlmError, match="unusable"):
        llm.ask(["你好"], CustomerProfile())


def test_dead_endpoint_is_an_error_not_a_hang():
    llm = LlmScorer(LlmConfig("http://127.0.0.1:9/v1", timeout_s=0.5))
    with pytest.raises(LlmError):
        llm.ask(["你好"], CustomerProfile())


def test_off_by_default(monkeypatch):
    monkeypatch.delenv("TIERLINE_LLM_URL", raising=False)
    assert llm_from_env() is None
    monkeypatch.setenv("TIERLINE_LLM_URL", "http://127.0.0.1:1/v1/chat/completions")
    monkeypatch.setenv("TIERLINE_LLM_WEIGHT", "7")
    llm = llm_from_env()
    assert llm.config.endpoint == "http://127.0.0.1:1/v1/chat/completions"
    assert llm.weight == 1.0


def test_parse_answer_clamps_value():
    op = parse_answer('sure: {"tier": "low", "value": 250}', 1)
    assert op.tier == "low" and op.value == 100 and abs(op.probs.sum() - 1) < 1e-6
