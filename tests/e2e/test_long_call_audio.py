"""A long call of real speech that is not a sale never drifts to high (issue 30, class 4).

Sixty AISHELL-1 news sentences (real speakers, human transcripts) read one after another as
one caller's turns, 2 s apart, over the 8 kHz μ-law line: five minutes of weak, unrelated
evidence replayed through the endpointer, real Whisper, the NLU and the tier. Many weak turns
must not add up to ``high`` or a senior-sales transfer (the tier's own rule: high needs a
large-value signal).
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from helpers.data import aishell_rows

pytestmark = [pytest.mark.whisper, pytest.mark.slow]


def test_five_minutes_of_news_never_make_a_caller_high(tmp_path):
    from tierline.agent.replay import replay_file
    from tierline.agent.session import CallSession, Models
    from tierline.audio.io import load_audio, telephone_round_trip
    from tierline.dialects.asr import load_whisper
    from tierline.nlu.pipeline import Nlu
    from tierline.segmentation.features import CustomerProfile

    gap = np.zeros(32000, np.float32)
    pieces = [gap]
    for path, _ in aishell_rows(60):
        pieces += [load_audio(path), gap]
    call = telephone_round_trip(np.concatenate(pieces))
    wav = tmp_path / "news_call.wav"
    sf.write(wav, call, 16000, subtype="PCM_16")

    session = CallSession(Models(nlu=Nlu(), asr=load_whisper()), CustomerProfile(),
                          {"id": "news"})
    record, error = replay_file(wav, session)
    assert error is None
    assert len(record.turns) >= 50, len(record.turns)  # the sentences were heard as turns
    highs = [(t.index, t.text, t.tier.reasons) for t in record.turns if t.tier.label == "high"]
    assert highs == []
    assert record.route is None or record.route.queue != "senior_sales", record.route
    assert max(t.tier.scores["high"] for t in record.turns) < 0.5
