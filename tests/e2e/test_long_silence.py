"""Words after a long silence are not lost (issue 30, class 5): the same real clip after 2, 30,
120 and 600 s of silence or line noise gives the same turn, starting at the same moment, and
the same words from the first one (Whisper on a window cut to the turn may read one character
differently when the turn's first samples shift by a frame; a clipped start loses the first
3-5 characters)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from helpers.data import shared_subdir

pytestmark = [pytest.mark.whisper, pytest.mark.slow]

CLIPS = ("BAC009S0252W0337", "BAC009S0150W0017")  # 只要能促进这个行业发展就是好的 / 崇明岛
NOISE_DB = -55.0


def _noise(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * 16000)) * 10 ** (NOISE_DB / 20)).astype(np.float32)


def _call(clip: np.ndarray, silence_s: float, line_noise: bool) -> np.ndarray:
    """``silence_s`` of silence (or line noise) before the clip; the last second before it and
    the noise under it are the same whatever ``silence_s``, so only the wait differs."""
    before = _noise(silence_s - 1, int(silence_s)) if line_noise else np.zeros(
        int((silence_s - 1) * 16000), np.float32)
    lead = _noise(1.0, 0) if line_noise else np.zeros(16000, np.float32)
    body = np.concatenate([clip, np.zeros(16000, np.float32)])
    if line_noise:
        body = body + _noise(len(body) / 16000, 1)[: len(body)]
    return np.concatenate([before, lead, body])


@pytest.fixture(scope="module")
def models():
    from tierline.agent.session import Models
    from tierline.dialects.asr import load_whisper
    from tierline.nlu.pipeline import Nlu

    return Models(nlu=Nlu(), asr=load_whisper(readings=False))


@pytest.mark.parametrize("line_noise", [False, True], ids=["silence", "line-noise"])
@pytest.mark.parametrize("name", CLIPS)
def test_the_same_words_whatever_the_silence_before(models, tmp_path, name, line_noise):
    from tierline.agent.replay import replay_file
    from tierline.agent.session import CallSession
    from tierline.audio.io import load_audio
    from tierline.dialects.normalize import edit_distance
    from tierline.segmentation.features import CustomerProfile

    clip = load_audio(shared_subdir("aishell1_sample") / "wav" / f"{name}.wav")
    heard = {}
    for silence in (2, 30, 120, 600):
        path = tmp_path / f"{silence}.wav"
        sf.write(path, _call(clip, silence, line_noise), 16000, subtype="PCM_16")
        record, error = replay_file(path, CallSession(models, CustomerProfile(), {"id": name}))
        assert error is None
        assert len(record.turns) == 1, (silence, [t.text for t in record.turns])
        turn = record.turns[0]
        heard[silence] = (turn.text, round(turn.start_s - silence, 1))
    first = heard[2][0]
    assert len({start for _, start in heard.values()}) == 1, heard
    for text, _ in heard.values():
        assert text[0] == first[0], heard  # the opening word is there every time
        assert edit_distance(text, first) <= max(1, len(first) // 10), heard
