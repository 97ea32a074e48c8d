"""Kokoro-82M Mandarin (corpus tooling): real model, invariants on the audio it makes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from helpers import require

from tierline.nlu.errors import NluError

require.module("misaki", extra="corpus")


@pytest.fixture(scope="module")
def tts():
    from tierline.audio.synthetic.kokoro import KokoroMandarin

    return KokoroMandarin(threads=1)


def test_phonemes_are_mandarin_ipa_with_tones(tts) -> None:
    ph = tts.phonemes("企业版多少钱一年")
    assert ph and any(t in ph for t in "↓→↗↘")


def test_speech_length_follows_text_and_speed(tts) -> None:
    from tierline.audio.synthetic.kokoro import KOKORO_RATE

    short = tts.speak("好的", "jf_alpha")
    long = tts.speak("我们部门有两百人需要使用，能不能便宜一点", "jf_alpha")
    assert short.dtype == np.float32 and long.dtype == np.float32
    assert 0.2 < len(short) / KOKORO_RATE < len(long) / KOKORO_RATE < 8.0
    assert abs(float(np.abs(long).max()) - 0.9) < 1e-3
    slow = tts.speak("我们部门有两百人需要使用", "jm_kumo", speed=0.85)
    fast = tts.speak("我们部门有两百人需要使用", "jm_kumo", speed=1.15)
    assert len(fast) < len(slow)


def test_nothing_speakable_is_empty_audio(tts, monkeypatch) -> None:
    assert tts.speak("。。。", "jf_alpha").size == 0
    # letters the model has no token for are not speakable either
    monkeypatch.setattr(tts, "phonemes", lambda text: "ʘǀ。")
    assert "ʘ" not in tts._m.vocab and "ǀ" not in tts._m.vocab
    assert tts.speak("ʘǀ", "jf_alpha").size == 0


def test_unknown_voice_is_an_nlu_error(tts) -> None:
    with pytest.raises(NluError, match="unknown voice"):
        tts.speak("你好", "zf_xiaobei")


def test_kokoro_renderer_needs_the_model() -> None:
    from tierline.nlu.training.asr_corpus import Renderer

    with pytest.raises(NluError):
        Renderer("kokoro")


def test_renderer_gives_16khz_audio_for_the_phone_line(tts) -> None:
    from tierline.nlu.training.asr_corpus import Renderer, phone_line

    render = Renderer("kokoro", tts)
    audio = render("能先给我们演示一下功能吗", None, 12345)
    assert 0.8 < len(audio) / 16_000 < 8.0
    line = phone_line(audio, 1)
    assert line.shape == audio.shape or abs(len(line) - len(audio)) < 16


def _asr_corpus(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tierline.nlu.training.asr_corpus", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.whisper
def test_asr_corpus_renders_a_kokoro_copy(tmp_path) -> None:
    from tierline.nlu.data import asr_beams, asr_copies, load_intents

    out = tmp_path / "copy.tsv"
    run = _asr_corpus("--tts", "kokoro", "--splits", "test", "--limit", "1", "--threads", "1",
                      "--out", str(out))
    assert run.returncode == 0, run.stderr
    rows = asr_copies(out)
    assert len(rows) == 1
    (said, heard), = rows.items()
    assert said in {e.text for e in load_intents("test")}
    assert heard  # Whisper heard the neural voice
    assert asr_beams(out)[said][0][0] == heard  # with the beam it was read from


@pytest.mark.whisper
def test_asr_corpus_renders_the_challenge_set_on_its_own(tmp_path) -> None:
    from tierline.nlu.data import asr_copies, load_challenge
    from tierline.nlu.training.asr_corpus import select

    challenge = [e.text for e in load_challenge()]
    assert select(("challenge",), 100) == challenge
    out = tmp_path / "challenge_copy.tsv"
    run = _asr_corpus("--splits", "challenge", "--limit", "1", "--threads", "1",
                      "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert list(asr_copies(out)) == challenge[:1]


@pytest.mark.parametrize("splits", ["validation", "challenge,test"])
def test_asr_corpus_bad_splits_is_one_line_exit_2(splits: str) -> None:
    run = _asr_corpus("--splits", splits)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
