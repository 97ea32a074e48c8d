"""The built-in SIP endpoint against real peers on 127.0.0.1: sipp and baresip.

One endpoint (real Whisper, NLU, tier model, espeak-ng prompts) serves the whole module; each
test places its calls with sipp scenarios or baresip and checks the call records, the
recordings and what the peers saw. Every peer runs under a time limit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sip_harness import (
    CALLS,
    PCAPS,
    Endpoint,
    active,
    agent_scenario,
    answered,
    baresip_dial,
    chunk_correlation,
    endpoint_config,
    free_port,
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
    from tierline.crm.store import CallStore

    ep = Endpoint(endpoint_config(workdir), models, store=CallStore(workdir / "crm.sqlite3"))
    yield ep
    ep.close()


def _new_records(endpoint: Endpoint, before: int, count: int = 1,
                 timeout: float = 180) -> list[dict]:
    return endpoint.wait_records(before + count, timeout)[before:]


def test_uac_pcap_call_is_answered_heard_and_recorded(endpoint, workdir):
    """sipp's uac_pcap scenario: G.711 A-law speech at once (over the bot's greeting), the DTMF
    digit 1, then BYE."""
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
    # the bot began its greeting; the caller talked over it and barge-in cut it short
    bot, _ = sf.read(sip["recordings"]["bot"], dtype="int16")
    assert len(active(bot[: 8000 * 3])) > 8000 * 0.3
    # (a reply to a turn the caller closed with a pause mid-stream may be talked over too)
    assert sip["barge_ins"] >= 1 and sip["bot"][0]["stopped"] is True, sip["bot"]
    greeting = endpoint.call(endpoint.manager.prompts.render(sip["bot"][0]["text"]))
    assert len(active(bot[: len(greeting) + 8000])) < len(active(greeting))


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
    # the call is in the CRM store, turn by turn, with the route it took
    from tierline.crm.queries import call_detail

    stored = call_detail(endpoint.manager.store.db, record["call"]["id"], pii=True)
    assert [t["text"] for t in stored["record"]["turns"]] == [t["text"] for t in record["turns"]]
    assert stored["record"]["route"] == record["route"]
    assert len(stored["decisions"]) == len(record["turns"])  # one decision per turn


def test_dtmf_digit_reaches_the_routing_policy(endpoint, workdir):
    """Keypad 0 (RFC 4733, sipp's pcap) means request_human: the policy transfers to general;
    with no target for general the caller gets a callback ticket."""
    before = len(endpoint.manager.records)
    xml = scenario(send(invite()), answered(), pause(1500),
                   play_pcap(PCAPS / "dtmf_2833_0.pcap"), pause(9000), hang_up())
    done = run_sipp(xml, endpoint.port, workdir, name="dtmf")
    assert done.returncode == 0, done.stdout[-2000:] + sipp_messages(workdir, "dtmf")
    (record,) = _new_records(endpoint, before)
    sip = record["call"]["sip"]
    assert [(d["digit"], d["intent"]) for d in sip["dtmf"]] == [("0", "request_human")]
    assert record["route"] == {"action": "transfer", "queue": "general", "at_turn": 0,
                               "reason": "caller asked for a human"}
    assert sip["transfer"]["result"] == "callback"
    tickets = (workdir / "callbacks.jsonl").read_text().splitlines()
    assert any(json.loads(t)["call"] == record["call"]["id"] for t in tickets)
    assert any("人工客服" in b["text"] for b in sip["bot"])  # the handoff / fallback lines


MALFORMED_OPTIONS = """OPTIONS sip:bot@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:fuzz@[local_ip]:[local_port]>;tag=[pid]f[call_number]
To: <sip:bot@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: {cseq} OPTIONS
Max-Forwards: 70
{extra}Content-Length: {length}

{body}"""


def _options(cseq: int, extra: str = "", length: str = "0", body: str = "") -> str:
    return MALFORMED_OPTIONS.format(cseq=cseq, extra=extra, length=length, body=body)


def test_malformed_messages_get_400_and_the_endpoint_keeps_serving(endpoint, workdir):
    xml = scenario(
        send(_options(1, length="500", body="short body"), retrans=False),
        '<recv response="400"/>\n',
        send(_options(2, extra="This line has no colon\n"), retrans=False),
        '<recv response="400"/>\n',
        send("\x01\x02 not SIP at all \xff", retrans=False),
        send(_options(3)), '<recv response="200"/>\n')
    malformed = endpoint.manager.ua.malformed
    done = run_sipp(xml, endpoint.port, workdir, name="malformed", timeout=30)
    assert done.returncode == 0, done.stdout[-2000:] + sipp_messages(workdir, "malformed")
    assert endpoint.manager.ua.malformed >= malformed + 3
    assert endpoint.manager.ua.handler_errors == 0


CANCEL = """CANCEL sip:bot@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:bot@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0

"""

ACK_FAILURE = """ACK sip:bot@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

"""


def test_cancel_while_ringing_gets_487_and_a_record(endpoint, workdir):
    before = len(endpoint.manager.records)
    endpoint.manager.answer_after_s = 5.0
    try:
        xml = scenario(send(invite()), '<recv response="100" optional="true"/>\n',
                       '<recv response="180"/>\n', send(CANCEL),
                       '<recv response="200"/>\n', '<recv response="487"/>\n',
                       send(ACK_FAILURE, retrans=False), pause(500))
        done = run_sipp(xml, endpoint.port, workdir, name="cancel", timeout=30)
    finally:
        endpoint.manager.answer_after_s = 0.2
    assert done.returncode == 0, done.stdout[-2000:] + sipp_messages(workdir, "cancel")
    (record,) = _new_records(endpoint, before, timeout=30)
    assert record["call"]["sip"]["end_reason"] == "cancelled while ringing"
    assert record["turns"] == []


BYE_UNKNOWN = """BYE sip:bot@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]x[call_number]
To: <sip:bot@[remote_ip]:[remote_port]>;tag=nosuchdialog
Call-ID: [call_id]
CSeq: 7 BYE
Max-Forwards: 70
Content-Length: 0

"""


def test_bye_for_an_unknown_dialog_gets_481(endpoint, workdir):
    xml = scenario(send(BYE_UNKNOWN), '<recv response="481"/>\n')
    done = run_sipp(xml, endpoint.port, workdir, name="bye481", timeout=20)
    assert done.returncode == 0, done.stdout[-2000:] + sipp_messages(workdir, "bye481")


def test_an_offer_without_g711_gets_488(endpoint, workdir):
    offer = invite(formats="9 3", rtpmaps="a=rtpmap:9 G722/8000\na=rtpmap:3 GSM/8000")
    xml = scenario(send(offer), '<recv response="100" optional="true"/>\n',
                   '<recv response="488"/>\n', send(ACK_FAILURE, retrans=False), pause(300))
    done = run_sipp(xml, endpoint.port, workdir, name="codec488", timeout=20)
    assert done.returncode == 0, done.stdout[-2000:] + sipp_messages(workdir, "codec488")
    assert endpoint.manager.calls == {} or all(
        "codec488" not in c for c in endpoint.manager.calls)


def test_a_retransmitted_invite_does_not_start_a_second_call(endpoint, workdir):
    """The same INVITE (same branch) sent twice before our 200 OK: one call, one record."""
    before = len(endpoint.manager.records)
    absorbed = endpoint.manager.ua.tx.absorbed
    endpoint.manager.answer_after_s = 1.5
    fixed = invite(branch="z9hG4bK-dup-[pid]-[call_number]")
    try:
        xml = scenario(send(fixed, retrans=False), '<recv response="100"/>\n',
                       send(fixed, retrans=False), '<recv response="180"/>\n',
                       '<recv response="180" optional="true"/>\n',
                       '<recv response="100" optional="true"/>\n',
                       '<recv response="200"/>\n', send(ACK_FAILURE.replace("[last_Via:]", (
                           "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]"
                       )).replace("CSeq: 1 ACK", "CSeq: 1 ACK"), retrans=False),
                       pause(2000), hang_up())
        done = run_sipp(xml, endpoint.port, workdir, name="dupinvite", timeout=40)
    finally:
        endpoint.manager.answer_after_s = 0.2
    assert done.returncode == 0, done.stdout[-2000:] + sipp_messages(workdir, "dupinvite")
    records = _new_records(endpoint, before, timeout=60)
    endpoint.wait_idle(30)
    assert len(endpoint.manager.records) == before + 1, records
    assert endpoint.manager.ua.tx.absorbed > absorbed


def test_a_call_without_rtp_is_ended_and_recorded(endpoint, workdir):
    from tierline.agent.sip.config import ServerConfig

    before = len(endpoint.manager.records)
    server = endpoint.manager.config.server
    endpoint.configure(server=ServerConfig(**{**server.__dict__, "no_rtp_timeout_s": 3.0}))
    ok = ("<recv request=\"BYE\"/>\n" + send(
        "SIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n"
        "[last_CSeq:]\nContent-Length: 0\n", retrans=False))
    try:
        xml = scenario(send(invite()), answered(), ok)
        done = run_sipp(xml, endpoint.port, workdir, name="nortp", timeout=30)
    finally:
        endpoint.configure(server=server)
    assert done.returncode == 0, done.stdout[-2000:] + sipp_messages(workdir, "nortp")
    (record,) = _new_records(endpoint, before, timeout=30)
    assert record["call"]["sip"]["end_reason"] == "no RTP for 3 s"
    assert Path(record["call"]["sip"]["recordings"]["caller"]).is_file()


def test_calls_beyond_max_calls_get_503(endpoint, workdir):
    from tierline.agent.sip.config import ServerConfig

    before = len(endpoint.manager.records)
    server = endpoint.manager.config.server
    endpoint.configure(server=ServerConfig(**{**server.__dict__, "max_calls": 1}))
    try:
        holder = run_sipp(scenario(send(invite()), answered(), pause(6000), hang_up()),
                          endpoint.port, workdir, name="holder", background=True)
        deadline = 30
        while not endpoint.manager.calls and deadline:
            import time

            time.sleep(0.5)
            deadline -= 1
        xml = scenario(send(invite()), '<recv response="503"/>\n',
                       send(ACK_FAILURE, retrans=False), pause(300))
        done = run_sipp(xml, endpoint.port, workdir, name="busy", timeout=20)
        holder.wait(60)
    finally:
        endpoint.configure(server=server)
    assert done.returncode == 0, done.stdout[-2000:] + sipp_messages(workdir, "busy")
    assert holder.returncode == 0
    _new_records(endpoint, before, timeout=60)


def test_a_new_call_gets_503_while_the_recogniser_is_behind(endpoint, workdir, monkeypatch):
    """When the shared decode queue is full (``ASR.busy``), a new caller is refused rather
    than every call slowing down."""
    asr = endpoint.manager.models.asr
    monkeypatch.setattr(asr, "busy", lambda: True)
    before = endpoint.manager.rejected.get(503, 0)
    xml = scenario(send(invite()), '<recv response="503"/>\n',
                   send(ACK_FAILURE, retrans=False), pause(300))
    done = run_sipp(xml, endpoint.port, workdir, name="asr-busy", timeout=20)
    assert done.returncode == 0, done.stdout[-2000:] + sipp_messages(workdir, "asr-busy")
    assert endpoint.manager.rejected.get(503, 0) == before + 1


def _caller_wav(name: str, workdir: Path, pad_s: float = 0.0) -> Path:
    """A sample call as 8 kHz mono 16-bit WAV (the caller's channel), for baresip's aufile
    (baresip hangs up when the file ends: ``pad_s`` of silence keeps the caller on the line)."""
    audio, rate = sf.read(str(CALLS / f"{name}.wav"), dtype="int16", always_2d=True)
    out = workdir / f"{name}.caller.wav"
    pcm = np.concatenate([audio[:, -1], np.zeros(int(rate * pad_s), dtype=np.int16)])
    sf.write(str(out), pcm, rate, subtype="PCM_16")
    return out


@pytest.mark.skipif(bool(missing_tools("baresip")), reason="baresip is not installed")
def test_baresip_call_is_decided_and_hears_the_bot(endpoint, workdir):
    """baresip dials with a sample call as its microphone (aufile) and records what it hears
    (sndfile): the bot's greeting reaches the far end, the call is decided as expected."""
    name = "low_refusal_continue"
    before = len(endpoint.manager.records)
    work = workdir / "baresip_call"
    wav = _caller_wav(name, work if work.mkdir() is None else work)
    secs = int(sf.info(str(wav)).duration) + 12
    proc, dump = baresip_dial(f"sip:{name}@127.0.0.1:{endpoint.port}", wav, work, secs)
    (record,) = _new_records(endpoint, before)
    proc.terminate()  # the call is over (baresip hangs up when its file ends)
    out, _ = proc.communicate(timeout=60)
    expected = json.loads((CALLS / f"{name}.expected.json").read_text())
    assert record["final_tier"] == expected["tier"], (out[-1500:], record["turns"])
    assert record["route"]["action"] == expected["action"]
    heard = [p for p in dump.glob("*.wav") if "dec" in p.name]
    assert heard, (out[-1500:], list(dump.iterdir()))
    far, rate = sf.read(str(heard[0]), dtype="int16", always_2d=True)
    assert rate == 8000
    bot, _ = sf.read(record["call"]["sip"]["recordings"]["bot"], dtype="int16")
    # what baresip heard is what the bot said: same level, and the greeting is in it
    greeting = bot[: 8000 * 3]
    assert len(active(far[:, 0])) > 8000  # more than a second of the bot's voice
    assert chunk_correlation(greeting, far[:, 0]) > 0.9
    assert abs(rms_db(active(far[:, 0])) - rms_db(active(bot))) < 1.5


def _transfer_config(endpoint: Endpoint, mode: str, queue: str, agent_port: int) -> None:
    from tierline.agent.livekit.config import QUEUE_NAMES, Queue
    from tierline.agent.sip.config import TransferConfig

    shared = endpoint.manager.config.shared
    queues = {**shared.queues, queue: Queue(queue, f"sip:agent@127.0.0.1:{agent_port}",
                                            QUEUE_NAMES[queue])}
    endpoint.configure(transfer=TransferConfig(mode=mode, timeout_s=20),
                       shared=dataclasses.replace(shared, queues=queues))


@pytest.mark.skipif(bool(missing_tools("baresip")), reason="baresip is not installed")
def test_refer_transfer_reaches_a_sipp_agent(endpoint, workdir):
    """An angry caller (baresip) is handed to customer care by REFER: baresip calls the sipp
    agent, NOTIFY reports 200, the record says transferred."""
    name = "angry_care"
    before = len(endpoint.manager.records)
    work = workdir / "refer"
    work.mkdir()
    agent_port = free_port()
    config = endpoint.manager.config
    _transfer_config(endpoint, "refer", "care", agent_port)
    try:
        agent = run_sipp(agent_scenario(require_headers=False), 0, work, name="agent",
                         timeout=150, extra=["-p", str(agent_port)], background=True)
        wav = _caller_wav(name, work, pad_s=40)
        proc, _ = baresip_dial(f"sip:{name}@127.0.0.1:{endpoint.port}", wav, work, 90)
        (record,) = _new_records(endpoint, before, timeout=150)
        time.sleep(3)  # baresip now talks to the agent; quitting hangs that call up
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
        agent_out, _ = agent.communicate(timeout=60)
    finally:
        endpoint.configure(transfer=config.transfer, shared=config.shared)
    transfer = record["call"]["sip"]["transfer"]
    assert record["route"]["queue"] == "care"
    assert transfer["mode"] == "refer"
    assert transfer["result"] == "transferred", (transfer, out[-2000:])
    assert transfer["attempts"][0]["sip_status"] == 200
    assert transfer["headers"]["X-Tierline-Tier"] in ("high", "medium", "low", "churn_risk")
    assert "X-Tierline-Summary" in transfer["headers"]
    assert 200 in record["call"]["sip"]["notify"]
    assert record["call"]["sip"]["end_reason"] == "transferred by REFER"
    assert agent.returncode == 0, agent_out[-2000:]


def test_bridged_transfer_relays_the_agent_and_keeps_listening(endpoint, workdir):
    """A churning customer (sipp, μ-law) is bridged to a sipp agent whose INVITE must carry the
    X-Tierline headers; the agent's voice reaches the caller's line through the bot, and the
    caller's audio after the bridge still reaches the pipeline (the bot keeps listening)."""
    name = "churn_competitor_retention"
    before = len(endpoint.manager.records)
    work = workdir / "bridge"
    work.mkdir()
    raw = work / f"{name}.ul"
    sent = g711_file(CALLS / f"{name}.wav", raw, "ulaw")
    agent_port = free_port()
    config = endpoint.manager.config
    _transfer_config(endpoint, "bridge", "retention", agent_port)
    try:
        agent = run_sipp(agent_scenario(voice=PCAPS / "g711a.pcap"), 0, work, name="agent",
                         timeout=120, extra=["-p", str(agent_port)], background=True)
        offer = invite(user=name, formats="0 101", port="[rtpstream_audio_port]",
                       rtpmaps="a=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000")
        ms = int(len(sent) / 8) + 25000
        xml = scenario(send(offer), answered(), rtp_stream(raw, 0), pause(ms), hang_up())
        done = run_sipp(xml, endpoint.port, work, name="caller", timeout=ms / 1000 + 60)
        (record,) = _new_records(endpoint, before, timeout=120)
        agent_out, _ = agent.communicate(timeout=60)
    finally:
        endpoint.configure(transfer=config.transfer, shared=config.shared)
    assert done.returncode == 0, done.stdout[-2000:] + sipp_messages(work, "caller")
    assert agent.returncode == 0, agent_out[-1500:] + sipp_messages(work, "agent")
    transfer = record["call"]["sip"]["transfer"]
    assert transfer["mode"] == "bridge" and transfer["result"] == "transferred", transfer
    assert transfer["attempts"][0]["status"] == "bridged"
    invite_to_agent = sipp_messages(work, "agent")
    assert "X-Tierline-Tier: " in invite_to_agent and "X-Tierline-Reason: " in invite_to_agent
    assert record["route"]["queue"] == "retention"
    # the caller's line carried the agent's voice after the bridge
    voice, _ = pcap_audio(PCAPS / "g711a.pcap")
    line, _ = sf.read(record["call"]["sip"]["recordings"]["bot"], dtype="int16")
    assert chunk_correlation(voice, line) > 0.9
    assert record["call"]["sip"]["end_reason"] == "caller hung up"
    assert record["call"]["sip"]["heard_s"] >= len(sent) / 8000


def test_outbound_call_to_a_sipp_phone(endpoint, workdir):
    """`sip call`'s path: INVITE with our offer, the callee (sipp) answers and talks; the call
    runs the same pipeline and leaves the same record."""
    before = len(endpoint.manager.records)
    work = workdir / "outbound"
    work.mkdir()
    phone_port = free_port()
    phone = run_sipp(agent_scenario(require_headers=False, voice=PCAPS / "g711a.pcap"), 0, work,
                     name="phone", timeout=90, extra=["-p", str(phone_port)], background=True)
    target = f"sip:13800001111@127.0.0.1:{phone_port}"

    async def call_and_hang_up():
        outcome, call, status = await endpoint.manager.dial(target, ringing_timeout_s=20)
        if call is not None:
            await asyncio.sleep(8)
            await call.hangup("test hung up")
        return outcome, status

    outcome, status = endpoint.call(call_and_hang_up(), timeout=120)
    phone_out, _ = phone.communicate(timeout=60)
    assert (outcome, status) == ("answered", 200)
    assert phone.returncode == 0, phone_out[-1500:] + sipp_messages(work, "phone")
    (record,) = _new_records(endpoint, before, timeout=120)
    sip = record["call"]["sip"]
    assert sip["direction"] == "outbound" and sip["codec"] == "PCMA"
    assert sip["to"] == f"sip:*******1111@127.0.0.1:{phone_port}"  # the number is masked
    assert sip["rtp"]["packets_in"] > 200
    assert len(record["turns"]) >= 1  # the callee's speech was heard and decided


def _hold_music(seconds: float, seed: int = 0) -> np.ndarray:
    """Music-like audio: plucked three-note chords with overtones, 8 kHz int16."""
    rng = np.random.default_rng(seed)
    notes = [261.6, 293.7, 329.6, 349.2, 392.0, 440.0, 493.9, 523.3]
    t = np.arange(int(8000 * 0.4)) / 8000
    env = np.minimum(1, t * 20) * np.exp(-t * 2)
    parts = []
    for _ in range(int(seconds / 0.4)):
        chord = rng.choice(notes, 3, replace=False)
        parts.append(env * sum(np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t)
                               for f in chord))
    x = np.concatenate(parts)
    return (x / np.abs(x).max() * 0.3 * 32767).astype(np.int16)


def test_hold_music_is_no_turn_and_a_hang_up_mid_turn_keeps_every_turn(endpoint, workdir):
    """10 s of hold music, then a high-value caller who hangs up 0.3 s after their last word
    (inside the endpointer's hangover): the music never becomes a turn, the words after it are
    all heard, and the turn open at the hang-up is decided with the ones before it."""
    from tierline.audio.g711 import ulaw_encode

    name = "high_budget_senior_sales"
    before = len(endpoint.manager.records)
    speech, rate = sf.read(str(CALLS / f"{name}.wav"), dtype="int16")
    assert rate == 8000
    music = _hold_music(10.0)
    raw = workdir / "music_then_caller.ul"
    raw.write_bytes(ulaw_encode(np.concatenate([music, speech])).tobytes())
    last_word = 16.2  # end of the sample's last spoken turn (samples/calls/README table)
    offer = invite(user=name, formats="0 101", port="[rtpstream_audio_port]",
                   rtpmaps="a=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000")
    ms = int((len(music) / 8000 + last_word + 0.3) * 1000)
    xml = scenario(send(offer), answered(), rtp_stream(raw, 0), pause(ms), hang_up())
    done = run_sipp(xml, endpoint.port, workdir, name="music", timeout=ms / 1000 + 60)
    assert done.returncode == 0, done.stdout[-2000:] + sipp_messages(workdir, "music")
    (record,) = _new_records(endpoint, before)
    turns = record["turns"]
    assert turns and all(t["start_s"] >= len(music) / 8000 - 0.5 for t in turns), turns
    assert record["final_tier"] == "high" and record["route"]["queue"] == "senior_sales"
    assert len(turns) == 3, [t["text"] for t in turns]  # the last one closed by the hang-up
    assert turns[-1]["end_s"] > len(music) / 8000 + 12.0
