"""Speech that is not a Mandarin sales call (issue 30, class 3): a real English telephone
recording (8 kHz read speech) is heard as English turn by turn, with Whisper's probability;
its words give the tier no evidence, so it never becomes high or reaches senior sales; with
an out-of-language queue configured the caller goes there."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers.data import shared_subdir

pytestmark = [pytest.mark.whisper, pytest.mark.slow]


def _replay(wav, out, *flags: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "tierline.agent.cli", "replay", str(wav), "--no-store",
         "--json", str(out), *flags], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text().splitlines()[0])


def test_an_english_caller_is_heard_as_english_and_never_made_high(tmp_path):
    wav = shared_subdir("osr_8k_joinly") / "OSR_us_000_0034_8k.wav"
    result = _replay(wav, tmp_path / "plain.jsonl")
    turns = result["turns"]
    assert len(turns) >= 3, turns
    for turn in turns:
        assert turn["language"] == "en", (turn["text"], turn["language"])
        assert 0.5 <= turn["language_prob"] <= 1.0
        assert "\ufffd" not in turn["text"]
        assert turn["tier"]["label"] != "high"
        assert turn["intent"]["label"] == "other"  # the NLU reads Chinese only
    assert result["route"]["queue"] != "senior_sales"

    routed = _replay(wav, tmp_path / "routed.jsonl", "--out-of-language-queue", "general")
    assert (routed["route"]["action"], routed["route"]["queue"]) == ("transfer", "general")
