"""Real Whisper, real dialect identifier, real clips: a Cantonese sample call is heard as
Cantonese turn by turn and a request for a human reaches the Cantonese-speaking queue; a
Mandarin call is never taken for Cantonese and reaches the plain queue.

The sample calls are built from clips whose speakers the shipped identifier never trained on
(:data:`tierline.dialects.evaluation.sample_calls.SAMPLE_SPEAKERS`), sent through an 8 kHz
μ-law line, and replayed through the product's endpointer and call session.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from tierline.agent.livekit.config import parse_config
from tierline.agent.livekit.telephony import handoff_headers
from tierline.agent.replay import replay_file
from tierline.agent.session import CallSession, Models
from tierline.dialects.families import UNKNOWN
from tierline.dialects.models import whisper_base_dir

pytestmark = [pytest.mark.whisper, pytest.mark.slow]

CONFIG = {"queues": {
    "general": {"target": "sip:general@pbx.example"},
    "general_yue": {"target": "sip:general-yue@pbx.example"},
}}


@pytest.fixture(scope="module")
def recognisers():
    """The recogniser every call of a process shares, as ``load_asr`` builds it."""
    from tierline.dialects.asr import AsrConfig, WhisperASR
    from tierline.dialects.call_dialect import DialectRecognisers, with_dialects

    config = AsrConfig(alternatives=1)
    shared = with_dialects(WhisperASR(whisper_base_dir(), config), config)
    assert isinstance(shared, DialectRecognisers)
    return shared


@pytest.fixture(scope="module")
def nlu():
    from tierline.nlu.pipeline import Nlu

    return Nlu()


def _replay(family: str, recognisers, nlu, tmp_path: Path):
    from helpers.data import shared_subdir

    from tierline.dialects.evaluation.sample_calls import build_call
    from tierline.segmentation.features import CustomerProfile

    data = shared_subdir("dialects_more").parent  # skips with a reason without the data
    path = build_call(data, family, tmp_path / f"{family}_call.wav")
    config = parse_config(CONFIG)
    session = CallSession(Models(nlu=nlu, asr=recognisers), CustomerProfile(), {"id": family},
                          policy=config.policy())
    record, error = replay_file(path, session)
    assert error is None
    return session, session.asr.inner, config


def _press_zero(session):
    """The caller asks for a human on the keypad; the session routes with the call's dialect."""
    return session.on_digit("0", "request_human")


def test_a_cantonese_call_reaches_the_cantonese_speaking_queue(recognisers, nlu, tmp_path):
    session, asr, config = _replay("yue", recognisers, nlu, tmp_path)
    turns = [t.to_dict() for t in session.record.turns]
    assert len(turns) >= 2, turns
    assert all(t["dialect"] is not None and 0.0 <= t["dialect_confidence"] <= 1.0
               for t in turns)  # filled on every turn
    assert turns[-1]["dialect"] == "yue", [(t["text"], t["dialect"]) for t in turns]
    assert asr.dialect.label == "yue" and asr.dialect.confidence >= asr.tracker.identifier \
        .threshold
    assert asr.dialect.speech_s >= 2.5
    decision = _press_zero(session)
    assert (decision.queue, decision.target) == ("general_yue", "sip:general-yue@pbx.example")
    assert "粤语" in decision.reason
    summary = unquote(handoff_headers(session.record)["X-Tierline-Summary"])
    assert "dialect=yue" in summary, summary  # the agent who takes the call is told


def test_a_mandarin_call_is_not_taken_for_cantonese(recognisers, nlu, tmp_path):
    session, asr, config = _replay("mandarin", recognisers, nlu, tmp_path)
    dialects = [t.dialect for t in session.record.turns]
    assert dialects and "yue" not in dialects, dialects
    assert asr.dialect.label in ("mandarin", UNKNOWN)
    decision = _press_zero(session)
    assert (decision.queue, decision.target) == ("general", "sip:general@pbx.example")
