"""The built-in SIP endpoint against real peers on 127.0.0.1: sipp and baresip.

One endpoint (real Whisper, NLU, tier model, espeak-ng prompts) serves the whole module; each
test places its calls with sipp scenarios or baresip and checks the call records, the
recordings and what the peers saw. Every peer runs under a time limit.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import soundfile as sf
from sip_harness import (
    CALLS,
    PCAPS,
    Endpoint,
    active,
    answered,
    chunk_correlation,
    endpoint_config,
    g711_file,
    hang_up,
    invite,
    missing_tools,
    pause,
    pcap_audio,
    play_pcap,
    rms_db,
    rtp_stream,
    run_sipp,
    scenario,
    send,
    sipp_messages,
)

pytestmark = [pytest.mark.slow, pytest.mark.model]

if missing_tools("sipp"):
    pytest.skip("sipp is not installed (apt-get install sip-tester; make setup installs it)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def models():
    from tierline.agent.session import Models
    from tierline.dialects.asr import AsrConfig, load_whisper
    from tierline.dialects.errors import ModelError
    from tierline.nlu.pipeline import Nlu

    try:
        asr = load_whisper(None, AsrConfig(cpu_threads=2), True)
    except ModelError as exc:
        pytest.skip(f"Whisper models not assembled ({exc})")
    return Models(nlu=Nlu(), asr=asr)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sip")


@pytest.fixture(scope="module")
def endpoint(models, workdir):
    customers = workdir / "customers"
    customers.mkdir()
    for path in CALLS.glob("*.customer.json"):
        shutil.copy(path, customers / (path.name.replace(".customer.json", ".json")))
    ep = Endpoint(endpoint_config(workdir), models)
    yield ep
    ep.close()


def _new_records(endpoint: Endpoint, before: int, count: int = 1,
                 timeout: float = 180) -> list[dict]:
    return endpoint.wait_records(before + count, timeout)[before:]


def test_uac_pcap_call_is_answered_heard_and_recorded(endpoint, workdir):
    """sipp's own uac_pcap: G.711 A-law speech then the DTMF digit 1, then BYE."""
    before = len(endpoint.manager.records)
    xml = scenario(
        send(invite()), answered(), play_pcap(PCAPS / "g711a.pcap"), pause(8000),
        play_pcap(PCAPS / "dtmf_2833_1.pcap"), pause(1500), hang_up())
    done = run_sipp(xml, endpoint.port, workdir, name="uac_pcap")
    assert done.returncode == 0, done.stdout[-2000:] + sipp_messages(workdir, "uac_pcap")
    (record,) = _new_records(endpoint, before)
    sip = record["call"]["sip"]
    assert sip["codec"] == "PCMA"
    assert sip["end_reason"] == "caller hung up"
    assert [d["digit"] for d in sip["dtmf"]] == ["1"]
    assert sip["rtp"]["rejected_source"] == 0 and sip["rtp"]["packets_in"] > 200
    # the caller track holds what sipp sent: same level, same polarity (A-law decoded the
    # standard way: an inverted decoder would correlate near -1)
    ref, pt = pcap_audio(PCAPS / "g711a.pcap")
    assert pt == 8
    got, rate = sf.read(sip["recordings"]["caller"], dtype="int16")
    assert rate == 8000
    corr = chunk_correlation(ref, got)
    assert corr > 0.95, (corr, sip["rtp"])
    assert abs(rms_db(active(got)) - rms_db(active(ref))) < 1.0
    # the bot spoke: its track has the greeting at the start
    bot, _ = sf.read(sip["recordings"]["bot"], dtype="int16")
    assert len(active(bot[: 8000 * 3])) > 8000 * 0.5
    assert sip["bot"] and sip["bot"][0]["text"]


@pytest.mark.parametrize(("name", "law"), [("high_budget_senior_sales", "ulaw"),
                                           ("churn_competitor_retention", "alaw")])
def test_sample_call_over_g711_reaches_the_expected_decision(endpoint, workdir, name, law):
    """A sample call rendered to μ-law/A-law and streamed by sipp: the bot hears it as sent
    and decides the tier and route its expected.json names."""
    before = len(endpoint.manager.records)
    raw = workdir / f"{name}.{law[0]}l"
    sent = g711_file(CALLS / f"{name}.wav", raw, law)
    pt = 8 if law == "alaw" else 0
    codec = "PCMA" if law == "alaw" else "PCMU"
    offer = invite(user=name, formats=f"{pt} 101", port="[rtpstream_audio_port]",
                   rtpmaps=f"a=rtpmap:{pt} {codec}/8000\na=rtpmap:101 telephone-event/8000")
    ms = int(len(sent) / 8) + 6000
    xml = scenario(send(offer), answered(), rtp_stream(raw, pt), pause(ms), hang_up())
    done = run_sipp(xml, endpoint.port, workdir, name=f"sample_{law}", timeout=ms / 1000 + 60)
    assert done.returncode == 0, done.stdout[-2000:] + sipp_messages(workdir, f"sample_{law}")
    (record,) = _new_records(endpoint, before)
    expected = json.loads((CALLS / f"{name}.expected.json").read_text())
    assert record["call"]["sip"]["codec"] == codec
    assert record["final_tier"] == expected["tier"], [t["text"] for t in record["turns"]]
    assert record["route"]["action"] == expected["action"]
    assert record["route"]["queue"] == expected.get("queue")
    got, _ = sf.read(record["call"]["sip"]["recordings"]["caller"], dtype="int16")
    corr = chunk_correlation(sent, got)
    assert corr > 0.95, (corr, record["call"]["sip"]["rtp"])
    assert abs(rms_db(active(got)) - rms_db(active(sent))) < 1.0
    heard = record["call"]["sip"]["heard_s"]
    assert heard >= len(sent) / 8000  # the whole call reached the pipeline
    assert all(0 < t["latency_ms"]["decision"] < 60_000 for t in record["turns"])
