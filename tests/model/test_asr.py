"""Offline Whisper on real speech: invariants with the real model (as faster-whisper's tests do).

The guards that need no model are in unit/dialects/test_asr_guards.py, the `asr-eval` command
in e2e/test_asr_eval_cli.py.
"""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from helpers.data import aishell_rows

from tierline.audio.io import load_audio, telephone_round_trip
from tierline.dialects.asr import (
    AsrConfig,
    WhisperASR,
)
from tierline.dialects.models import resolve_asr_model, resolve_readings_model
from tierline.dialects.normalize import edit_distance, normalize_text

pytestmark = pytest.mark.whisper


@pytest.fixture(scope="module")
def asr() -> WhisperASR:
    return WhisperASR(resolve_asr_model(None), AsrConfig())


def test_real_speech_transcript_invariants(asr: WhisperASR):
    errors = chars = 0
    for path, reference in aishell_rows(4):
        audio = load_audio(path)
        t = asr.transcribe(audio)
        assert t.text and t.language == "zh" and t.dialect is None
        assert 0.0 < t.confidence <= 1.0
        assert 0.0 <= t.start_s <= t.end_s <= len(audio) / 16000 + 1e-6
        assert normalize_text(t.text) == normalize_text(t.text.replace("後", "后"))
        ref = normalize_text(reference)
        errors += edit_distance(ref, normalize_text(t.text))
        chars += len(ref)
    assert errors / chars < 0.35  # the 60-clip corpus CER is ~0.13 (README)


def test_telephone_band_still_transcribes(asr: WhisperASR):
    path, reference = aishell_rows(1)[0]
    t = asr.transcribe(telephone_round_trip(load_audio(path)))
    ref = normalize_text(reference)
    assert edit_distance(ref, normalize_text(t.text)) / len(ref) < 0.5


def test_the_beam_readings_come_from_the_same_decode(asr: WhisperASR):
    audio = telephone_round_trip(load_audio(aishell_rows(2)[1][0]))
    t = asr.transcribe(audio)
    assert 1 < len(t.alternatives) <= asr.config.beam_size
    assert t.alternatives[0].text == t.text
    assert all(math.isfinite(h.logprob) and h.logprob < 0 for h in t.alternatives)
    best_only = WhisperASR(asr.model_dir, replace(asr.config, alternatives=1))
    plain = best_only.transcribe(audio)
    assert (plain.text, plain.alternatives) == (t.text, ())


def test_the_call_centre_readings_follow_the_transcripts_own(asr: WhisperASR):
    audio = telephone_round_trip(load_audio(aishell_rows(2)[1][0]))
    reader = resolve_readings_model(None)
    both = WhisperASR(asr.model_dir, asr.config, reader).transcribe(audio)
    own = asr.transcribe(audio)
    alone = WhisperASR(reader, asr.config).transcribe(audio)
    n = len(own.alternatives)
    # the transcript and the first readings are Whisper base's; the rest are exactly what the
    # call-centre model reads on its own (one encode shared, so no drift between the two)
    assert both.text == own.text and both.alternatives[:n] == own.alternatives
    assert both.alternatives[n:] == tuple(h for h in alone.alternatives if h.text)
    assert len(both.alternatives) > n
    assert resolve_readings_model("/some/user/model") is None  # only the bundled base


def test_no_readings_flag_loads_whisper_base_alone():
    from tierline.agent.clikit import load_asr
    from tierline.dialects.call_dialect import DialectRecognisers

    def base(asr):  # load_asr wraps Whisper base with the dialect identifier by default
        assert isinstance(asr, DialectRecognisers)
        return asr.base

    flags = SimpleNamespace(asr_model=None, prompt=None, threads=1)
    assert base(load_asr(flags)).readings_dir == resolve_readings_model(None)
    assert base(load_asr(SimpleNamespace(**vars(flags), no_readings=True))).readings_dir is None
    assert base(load_asr(flags, readings=False)).readings_dir is None
    plain = load_asr(SimpleNamespace(**vars(flags), no_dialect=True))
    assert isinstance(plain, WhisperASR) and plain.readings_dir is not None


def test_silence_and_noise_give_no_words(asr: WhisperASR):
    assert asr.transcribe(np.zeros(16000 * 2, dtype=np.float32)).text == ""
    t = asr.transcribe(np.zeros(0, dtype=np.float32))
    assert (t.text, t.confidence) == ("", 0.0)
