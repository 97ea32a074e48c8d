"""`tierline sip serve` and `tierline sip call` run as a user runs them (child processes)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from sip_harness import (
    PCAPS,
    answered,
    free_port,
    hang_up,
    invite,
    missing_tools,
    pause,
    play_pcap,
    run_sipp,
    scenario,
    send,
    sipp_messages,
)

from tierline.agent.dialog.compliance import DncList


def _cli(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tierline.agent.cli", *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.parametrize("target", ["sip:+8613800138000@127.0.0.1:{port}",
                                    "sip:13800138000@127.0.0.1:{port}"])
def test_sip_call_refuses_a_do_not_call_number_and_sends_nothing(tmp_path, target):
    home = tmp_path / "home"
    DncList(home / "dnc.sqlite3").add("+86 138 0013 8000", phrase="别再打了")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind(("127.0.0.1", 0))
        phone.settimeout(1.0)
        port = phone.getsockname()[1]
        out = _cli("sip", "call", target.format(port=port),
                   env={**os.environ, "TIERLINE_HOME": str(home)})
        assert out.returncode == 2, out.stderr
        assert "do-not-call" in out.stderr and "Traceback" not in out.stderr
        with pytest.raises(TimeoutError):
            phone.recvfrom(2048)  # not one datagram reached the number's phone


def test_sip_call_rejects_a_bad_target_and_a_bad_config(tmp_path):
    env = {**os.environ, "TIERLINE_HOME": str(tmp_path / "home")}
    out = _cli("sip", "call", "hello", env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    bad = tmp_path / "sip.toml"
    bad.write_text('[trunk]\ncodecs = ["G729"]\n', encoding="utf-8")
    out = _cli("sip", "serve", "--config", str(bad), env=env)
    assert out.returncode == 2 and "codecs" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.skipif(bool(missing_tools("sipp")), reason="sipp is not installed")
def test_sip_serve_answers_sipp_uac_pcap_and_writes_the_record(tmp_path):
    """The command a user starts: it answers sipp's uac_pcap call, stores the record and both
    tracks, and on SIGINT exits 0."""
    port = free_port()
    rtp = free_port() // 1000 * 1000
    config = tmp_path / "sip.toml"
    config.write_text(f"""[server]
rtp_port_min = {max(rtp, 20000)}
rtp_port_max = {max(rtp, 20000) + 500}
records_dir = "{tmp_path / 'out'}"
recordings_dir = "{tmp_path / 'out' / 'rec'}"
callbacks_file = "{tmp_path / 'out' / 'callbacks.jsonl'}"
[tts]
sample_rate = 8000
""", encoding="utf-8")
    env = {**os.environ, "TIERLINE_HOME": os.environ.get("TIERLINE_HOME", "")}
    env = {k: v for k, v in env.items() if v}
    server = subprocess.Popen([sys.executable, "-m", "tierline.agent.cli", "sip", "serve",
                               "--config", str(config), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env)
    try:
        deadline = time.monotonic() + 240
        line = ""
        while "listening" not in line:
            line = server.stdout.readline()
            if not line and server.poll() is not None:
                pytest.fail(f"sip serve exited {server.returncode}")
            if time.monotonic() > deadline:
                pytest.fail("sip serve did not start within 240 s")
        xml = scenario(send(invite()), answered(), play_pcap(PCAPS / "g711a.pcap"),
                       pause(8000), hang_up())
        done = run_sipp(xml, port, tmp_path, name="cli")
        assert done.returncode == 0, done.stdout[-1500:] + sipp_messages(tmp_path, "cli")
        records = tmp_path / "out" / "calls.jsonl"
        deadline = time.monotonic() + 120
        while not (records.exists() and records.read_text().strip()):
            assert time.monotonic() < deadline, "no call record within 120 s"
            time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=60)
    assert server.returncode == 0, out[-2000:]
    (record,) = [json.loads(line) for line in records.read_text().splitlines()]
    assert record["call"]["sip"]["end_reason"] == "caller hung up"
    assert set(record) >= {"call", "turns", "final_tier", "route"}
    for track in record["call"]["sip"]["recordings"].values():
        assert os.path.getsize(track) > 8000 * 2 * 5  # at least 5 s of each track
    assert "== " in out  # the summary line of the call
