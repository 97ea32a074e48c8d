"""A call that dies mid-way keeps the turns already decided (unit level, with fakes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers.data import shared_subdir

from tierline.agent import replay as replay_module
from tierline.agent.replay import replay_file
from tierline.agent.session import CallSession, Models
from tierline.audio.errors import AudioError
from tierline.audio.io import iter_frames, load_audio
from tierline.dialects.asr import FakeASR
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import parse_customer

RATE = 16000


def speech_turns(path: Path, turns: int) -> Path:
    """Real Mandarin clips (AISHELL) separated by 1.5 s of silence, written at 16 kHz."""
    clips = sorted((shared_subdir("aishell1_sample") / "wav").glob("*.wav"))[:turns]
    pieces = [np.zeros(RATE // 2, dtype=np.float32)]
    for clip in clips:
        pieces += [load_audio(clip), np.zeros(int(RATE * 1.5), dtype=np.float32)]
    sf.write(path, np.concatenate(pieces), RATE)
    return path


def session(texts: list[str]) -> CallSession:
    customer = parse_customer({"contract_value": 200000, "complaint_count": 1})
    return CallSession(Models(nlu=Nlu(), asr=FakeASR(texts)), customer, {"id": "t"})


def test_every_clip_becomes_a_turn(tmp_path: Path):
    s = session(["你好", "我们不想用你们的系统了", "再见"])
    record, error = replay_file(speech_turns(tmp_path / "c.wav", 3), s)
    assert error is None
    assert [t.text for t in record.turns] == ["你好", "我们不想用你们的系统了", "再见"]
    assert record.to_dict()["route"]["queue"] == "retention"


def test_audio_breaking_off_keeps_earlier_turns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = speech_turns(tmp_path / "c.wav", 3)

    def breaking(*args, **kwargs):
        for i, frame in enumerate(iter_frames(*args, **kwargs)):
            if i == 400:  # 8 s in: the second turn is closed, the third has begun
                raise AudioError(f"not a readable audio file: {path} (stream cut)")
            yield frame

    monkeypatch.setattr(replay_module, "iter_frames", breaking)
    s = session(["你好", "我们不想用你们的系统了"])
    record, error = replay_file(path, s)
    assert error and "stream cut" in error
    assert [t.text for t in record.turns] == ["你好", "我们不想用你们的系统了"]
    result = record.to_dict()
    assert result["call"]["error"] == error
    assert result["final_tier"] == "churn_risk"
