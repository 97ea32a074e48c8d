"""Optional LLM replies against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import paths

from tierline.agent.dialog import DialogConfig, DialogManager, load_kb
from tierline.agent.dialog.llm_reply import grounded
from tierline.agent.session import CallSession, Models
from tierline.core.llm import LlmConfig
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import CustomerProfile

KB = paths.KB_DIR / "yunfan.yaml"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server API
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.requests.append((self.path, body))
        if server.delay:
            time.sleep(server.delay)
        if server.status != 200:
            self.send_response(server.status)
            self.end_headers()
            return
        data = json.dumps({"choices": [{"message": {"role": "assistant",
                                                    "content": server.answer}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data.encode("utf-8"))

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def llm_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.requests, server.delay, server.status = [], 0.0, 200
    server.answer = "我们按人数年付，专业版每人每年1200元。"
    # shutdown() waits for the next poll: 0.5 s by default, after every test
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def kb():
    return load_kb(KB)


def _reply(kb, tmp_path, server, text="专业版多少钱？", timeout=1.0):
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    nlu = Nlu()
    dm = DialogManager(kb, config=DialogConfig(
        llm=LlmConfig(url=url, timeout_s=timeout), dnc_path=tmp_path / "d.sqlite3"), nlu=nlu)
    session = CallSession(Models(nlu=nlu), CustomerProfile(), {"id": "llm"}, dialog=dm)
    return session.on_text(text).reply


def test_llm_reply_is_used_and_grounded_on_the_kb(kb, tmp_path, llm_server) -> None:
    reply = _reply(kb, tmp_path, llm_server)
    answer = next(s for s in reply.segments if s.kind == "answer")
    assert reply.source == "llm" and answer.text == llm_server.answer
    path, body = llm_server.requests[0]
    assert path == "/v1/chat/completions"
    system = body["messages"][0]["content"]
    assert "专业版：每人每年1200元" in system and "增值税专用发票" in system
    assert "专业版每人每年1200元" in body["messages"][1]["content"]  # the template draft


def test_made_up_numbers_fall_back_to_the_template(kb, tmp_path, llm_server) -> None:
    llm_server.answer = "专业版现在特价每人每年999元！"
    reply = _reply(kb, tmp_path, llm_server)
    assert reply.source == "template" and "专业版每人每年1200元" in reply.text
    assert "999" not in reply.text


def test_slow_endpoint_times_out_to_the_template(kb, tmp_path, llm_server) -> None:
    llm_server.delay = 1.5
    t0 = time.monotonic()
    reply = _reply(kb, tmp_path, llm_server, timeout=0.3)
    assert time.monotonic() - t0 < 1.2  # the call does not wait for the slow server
    assert reply.source == "template" and "1200元" in reply.text


def test_server_error_falls_back(kb, tmp_path, llm_server) -> None:
    llm_server.status = 500
    assert _reply(kb, tmp_path, llm_server).source == "template"


def test_mandatory_text_never_goes_to_the_llm(kb, tmp_path, llm_server) -> None:
    reply = _reply(kb, tmp_path, llm_server, text="别再打了")
    assert reply.dnc and reply.source == "template" and not llm_server.requests


def test_off_by_default(kb, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("TIERLINE_LLM_URL", raising=False)
    assert DialogManager(kb, config=DialogConfig(dnc_path=tmp_path / "d")).llm is None
    monkeypatch.setenv("TIERLINE_LLM_URL", "http://127.0.0.1:9/v1")
    assert DialogManager(kb, config=DialogConfig(dnc_path=tmp_path / "d")).llm is not None
    assert DialogManager(kb, config=DialogConfig(dnc_path=tmp_path / "d",
                                                 use_llm=False)).llm is None


def test_grounding_check() -> None:
    assert grounded("专业版每人每年1200元", "专业版：每人每年1200元")
    assert not grounded("每人每年999元", "专业版：每人每年1200元")
    assert grounded("好的，我们马上安排", "")
