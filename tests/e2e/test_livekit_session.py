"""A real AgentSession driven by sample calls through the file input (real Whisper).

Bounded: two sample calls at 3x real time, plus a hang-up in mid-utterance. Expectations come
from the samples' .expected.json files; decisions are compared with `tierline replay`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import paths

from tierline.agent.livekit.call import run_file_call
from tierline.agent.livekit.config import parse_config
from tierline.agent.policy import RoutingPolicy
from tierline.agent.replay import replay_file
from tierline.agent.session import CallSession, Models
from tierline.segmentation.features import load_customer

pytestmark = [pytest.mark.whisper, pytest.mark.slow]
CALLS = paths.CALLS


@pytest.fixture(scope="module")
def models():
    from tierline.dialects.asr import WhisperASR
    from tierline.dialects.models import resolve_asr_model
    from tierline.nlu.pipeline import Nlu

    return Models(nlu=Nlu(), asr=WhisperASR(resolve_asr_model(None)))


def _config(tmp_path: Path):
    return parse_config({"worker": {"callbacks_file": str(tmp_path / "callbacks.jsonl")},
                         "queues": {"general": {"target": "sip:general@pbx.test"},
                                    "care": {"target": "sip:care@pbx.test"}}}, "test")


def _session(models, name: str, config) -> CallSession:
    customer = load_customer(CALLS / f"{name}.customer.json")
    return CallSession(models, customer, {"id": name},
                       RoutingPolicy(queues=config.queue_targets()))


@pytest.mark.parametrize("name", ["angry_care", "medium_price_continue"])
def test_agent_session_reaches_the_expected_tier_and_route(models, tmp_path, name):
    config = _config(tmp_path)
    session = _session(models, name, config)
    result = asyncio.run(run_file_call(CALLS / f"{name}.wav", session, config, speed=3.0))
    expected = json.loads((CALLS / f"{name}.expected.json").read_text(encoding="utf-8"))
    record = result.record.to_dict()
    assert record["final_tier"] == expected["tier"]
    assert record["route"]["action"] == expected["action"]
    assert record["route"]["queue"] == expected["queue"]
    info = record["call"]["livekit"]
    # livekit reported its own per-turn latency for every decided turn
    assert len(info["turn_metrics"]) == len(record["turns"]) >= 2
    for m in info["turn_metrics"]:
        assert m["transcription_delay"] is not None and m["transcription_delay"] >= 0
        assert m["end_of_turn_delay"] >= m["transcription_delay"]
    assert info["bot"][0]["text"]  # the greeting was spoken into the line
    assert sum(len(a) for a in result.bot_audio) > 0
    # each utterance was decoded once although endpointer, STT and session all asked
    assert info["asr_decodes"] <= len(record["turns"]) + 2

    # the same decisions as replay on the same call
    replayed, _ = replay_file(CALLS / f"{name}.wav", _session(models, name, config))
    rep = replayed.to_dict()
    assert [t["text"] for t in record["turns"]] == [t["text"] for t in rep["turns"]]
    assert [t["tier"]["label"] for t in record["turns"]] == [
        t["tier"]["label"] for t in rep["turns"]]
    assert record["route"] == rep["route"]
    if record["route"]["action"] == "transfer":
        transfer = info["transfer"]
        assert transfer["queue"] == expected["queue"]
        assert transfer["headers"]["X-Tierline-Tier"] == record["turns"][
            record["route"]["at_turn"]]["tier"]["label"]


def test_caller_hanging_up_mid_utterance_keeps_a_complete_record(models, tmp_path):
    name = "medium_hesitant_continue"
    audio, rate = sf.read(CALLS / f"{name}.wav", dtype="float32")
    from tierline.audio.io import iter_frames
    from tierline.audio.vad import split_utterances

    last = list(split_utterances(iter_frames(CALLS / f"{name}.wav")))[-1]
    cut = int((last.start_s + 0.6 * (last.end_s - last.start_s)) * rate)
    path = tmp_path / "hangup.wav"
    sf.write(path, np.asarray(audio[:cut]), rate)
    config = _config(tmp_path)
    session = _session(models, name, config)
    result = asyncio.run(run_file_call(path, session, config, speed=0))
    record = result.record.to_dict()
    replayed, _ = replay_file(path, _session(models, name, config))
    assert len(record["turns"]) == len(replayed.turns) >= 1
    assert record["turns"][-1]["end_s"] <= record["call"]["duration_s"] + 0.01
    assert record["final_tier"] and record["route"]["action"] in ("continue", "transfer")
    assert record["call"]["livekit"]["wait_timeouts"] == 0
