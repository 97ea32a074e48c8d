"""The agent worker: offline run through the real AgentServer process pool, health on the
worker HTTP port, the models passed to job processes. Start-up errors are in
unit/agent/test_worker_cli.py."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys

import aiohttp
import pytest
from helpers import paths

CALLS = paths.CALLS
pytestmark = pytest.mark.whisper
TURN_KEYS = {"index", "start_s", "end_s", "text", "language", "dialect", "intent", "entities",
             "emotion", "tier", "latency_ms"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_worker_offline_runs_a_sample_call_through_the_process_pool(tmp_path):
    name = "angry_care"
    cfg = tmp_path / "lk.toml"
    cfg.write_text(f'[worker]\nagent_name = "tierline-test"\n'
                   f'callbacks_file = "{tmp_path / "cb.jsonl"}"\n'
                   '[queues.care]\ntarget = "sip:care@pbx.test"\n', encoding="utf-8")
    out = tmp_path / "call.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tierline.agent.cli", "worker", "offline",
         str(CALLS / f"{name}.wav"), "--speed", "4", "--json", str(out), "--config", str(cfg)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "TIERLINE_DB_URL": str(tmp_path / "crm.db")})
    assert proc.returncode == 0, proc.stderr
    record = json.loads(out.read_text(encoding="utf-8"))
    expected = json.loads((CALLS / f"{name}.expected.json").read_text(encoding="utf-8"))
    # the job process wrote the call to the CRM store, turn by turn, as every transport does
    from tierline.crm.db import open_database
    from tierline.crm.queries import call_detail

    stored = call_detail(open_database(tmp_path / "crm.db"), record["call"]["id"], pii=True)
    assert [t["text"] for t in stored["record"]["turns"]] == [t["text"] for t in record["turns"]]
    assert stored["record"]["route"] == record["route"]
    assert record["final_tier"] == expected["tier"]
    assert (record["route"]["action"], record["route"]["queue"]) == (expected["action"],
                                                                    expected["queue"])
    assert set(record) == {"call", "turns", "final_tier", "route"}
    assert set(record["route"]) == {"action", "queue", "at_turn", "reason"}
    assert all(set(t) >= TURN_KEYS for t in record["turns"])
    lk = record["call"]["livekit"]
    assert lk["agent_name"] == "tierline-test"
    assert lk["worker_pid"] != os.getpid()  # decided in a job process of the pool
    assert lk["transfer"]["result"] == "not_attempted"  # no SIP leg offline, target resolved
    assert lk["transfer"]["attempts"][0]["target"] == "sip:care@pbx.test"
    # the table: one line per turn and replay's summary line
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith(f"== {name}.wav: {len(record['turns'])} turns")
    assert sum(" → " in ln or "continue" in ln for ln in lines[1:-1]) == len(record["turns"])


def test_health_and_worker_info_on_the_worker_http_port():
    from tierline.agent.livekit.config import parse_config
    from tierline.agent.livekit.worker import build_server

    async def go():
        server = build_server(parse_config({"worker": {"agent_name": "tierline-health"}}),
                              devmode=True, port=0)
        started = asyncio.Event()
        server.on("worker_started", lambda *_: started.set())
        task = asyncio.create_task(server.run(devmode=True, unregistered=True))
        try:
            await asyncio.wait_for(started.wait(), 60)
            port = server.worker_info.http_port
            async with aiohttp.ClientSession() as s:
                async with s.get(f"http://127.0.0.1:{port}/") as r:
                    health = (r.status, await r.text())
                async with s.get(f"http://127.0.0.1:{port}/worker") as r:
                    info = await r.json()
            return health, info
        finally:
            await server.aclose()
            task.cancel()

    health, info = asyncio.run(go())
    assert health == (200, "OK")
    assert info["agent_name"] == "tierline-health"
    assert "worker_load" in info or "active_jobs" in info or info.get("sdk_version")


def test_worker_passes_the_call_centre_reader_to_its_job_processes(monkeypatch):
    from types import SimpleNamespace

    from tierline.agent.commands.worker import _setup
    from tierline.agent.livekit.worker import ENV_ASR_MODEL, ENV_ASR_READINGS, ENV_ASR_THREADS
    from tierline.dialects.models import resolve_readings_model

    flags = dict(asr_model=None, threads=2, verbose=False)
    for no_readings, expected in ((False, str(resolve_readings_model(None))), (True, "")):
        for name in (ENV_ASR_MODEL, ENV_ASR_READINGS, ENV_ASR_THREADS):
            monkeypatch.delenv(name, raising=False)  # restored after the test
        _setup(SimpleNamespace(**flags, no_readings=no_readings))
        assert os.environ[ENV_ASR_READINGS] == expected
