"""`tierline worker` start-up errors: one clear line and exit 2, before any model loads.

`worker start` checks that the Whisper models are assembled before it reaches for the server,
so its two tests need them in place (marked ``whisper``), though nothing is loaded.
"""

from __future__ import annotations

import socket

import pytest
from helpers.paths import CALLS

from tierline.agent.cli import main


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.whisper
def test_worker_start_without_livekit_url_exits_2(monkeypatch, capsys):
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["worker", "start"]) == 2
    err = capsys.readouterr().err
    assert "LIVEKIT_URL" in err and "Traceback" not in err


@pytest.mark.whisper
def test_worker_start_with_unreachable_server_exits_2(monkeypatch, capsys):
    monkeypatch.setenv("LIVEKIT_URL", f"ws://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("LIVEKIT_API_KEY", "devkey")
    monkeypatch.setenv("LIVEKIT_API_SECRET", "a-secret-long-enough-for-hs256-signing!!")
    assert main(["worker", "start"]) == 2
    assert "cannot reach LiveKit server" in capsys.readouterr().err


def test_worker_offline_bad_input_exits_2(capsys, tmp_path):
    assert main(["worker", "offline", str(tmp_path / "missing.wav")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["worker", "offline", str(CALLS / "angry_care.wav"), "--speed", "-1"]) == 2
