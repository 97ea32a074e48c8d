"""The recogniser's guards that need no model: prompt echoes, decoder loops, the fake, errors.

The real Whisper tests are in model/test_asr.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tierline.dialects.asr import DOMAIN_PROMPT, FakeASR, collapse_loops, echoes_prompt
from tierline.dialects.errors import ModelError
from tierline.dialects.models import resolve_asr_model


def test_prompt_echoes_are_found_but_real_words_are_not():
    assert echoes_prompt("预算、坐席数量、续费、", DOMAIN_PROMPT)
    assert not echoes_prompt("我们的预算是七十万。", DOMAIN_PROMPT)
    assert echoes_prompt("客户咨询产品价格。我想买。", DOMAIN_PROMPT)
    assert not echoes_prompt("我想买。", DOMAIN_PROMPT)
    assert not echoes_prompt("转人工。", None)


def test_decoder_loops_collapse():
    assert collapse_loops("小小小小小小") == "小"
    assert collapse_loops("大意,大意,大意,大意,") == "大意,"
    assert collapse_loops("你好你好") == "你好你好"  # two repeats are speech, not a loop


def test_fake_asr_plays_its_script():
    fake = FakeASR(["你好", "再见"])
    audio = np.zeros(16000, dtype=np.float32)
    assert [fake.transcribe(audio).text for _ in range(3)] == ["你好", "再见", ""]
    assert fake.transcribe(np.zeros(0, dtype=np.float32)).text == ""


def test_missing_model_says_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TIERLINE_HOME", str(tmp_path))
    with pytest.raises(ModelError, match="tierline models assemble"):
        resolve_asr_model(None)


