"""Speculative final decode and early close in the two-stage endpointer (fake recogniser)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import wait

import numpy as np
import pytest
from helpers.voice_audio import silence, to_frames

from tierline.audio.detector import ScriptedDetector
from tierline.audio.endpointer import ConfirmConfig, TwoStageEndpointer
from tierline.audio.errors import AudioError
from tierline.audio.vad import EndpointerConfig
from tierline.dialects.asr import ASR
from tierline.dialects.memo import MemoASR
from tierline.dialects.records import Transcript

RATE = 16000


def burst(seconds: float) -> np.ndarray:
    """Noise loud enough for webrtcvad; the scripted detector says where speech is."""
    return np.random.default_rng(3).normal(0, 0.2, int(seconds * RATE)).astype(np.float32)


def two_bursts(pause_s: float) -> tuple[np.ndarray, ScriptedDetector]:
    """0.5 s silence, 0.8 s speech, a pause, 0.8 s speech, 2 s silence."""
    signal = np.concatenate([silence(0.5), burst(0.8), silence(pause_s), burst(0.8),
                             silence(2.0)])
    second = 65 + round(pause_s * 50)
    return signal, ScriptedDetector(
        lambda i: 0.9 if (25 <= i < 65 or second <= i < second + 40) else 0.0)


def one_burst() -> tuple[np.ndarray, ScriptedDetector]:
    signal = np.concatenate([silence(0.5), burst(0.8), silence(2.0)])
    return signal, ScriptedDetector(lambda i: 0.9 if 25 <= i < 65 else 0.0)


class PacedClock:
    """A wall clock that reads the end of the frame being pushed: frames arrive at 1× speed."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class SlowASR(ASR):
    """Fake recogniser: the text is scripted or names the audio's length; each decode takes
    ``delay_s``; remembers when (clock time) and on what length each decode ran."""

    def __init__(self, clock=None, text: str | None = None, delay_s: float = 0.03) -> None:
        self.clock, self.text, self.delay_s = clock, text, delay_s
        self.runs: list[tuple[float, int]] = []
        self._lock = threading.Lock()

    def _transcribe_impl(self, audio: np.ndarray, partial: bool = False) -> Transcript:
        with self._lock:
            self.runs.append((self.clock.t if self.clock else 0.0, len(audio)))
        time.sleep(self.delay_s)
        text = self.text if self.text is not None else f"len{len(audio)}ok"
        return Transcript(text, "zh", None, 0.0, 0.0, 1.0, 0.0)


def run(signal, detector, memo: MemoASR | None, clock=None, settle=True, **confirm):
    """Endpoint ``signal`` as a call does; each closed turn is then transcribed by the call's
    memo, as the session does. Returns (endpointer, utterances, transcripts).

    With a paced ``clock`` and ``settle``, a speculative decode finishes before the next frame
    (a decode faster than 20 ms of call time)."""
    kwargs = {"clock": clock} if clock is not None else {}
    ep = TwoStageEndpointer(EndpointerConfig(), ConfirmConfig(**confirm), detector,
                            partial=(lambda a: memo.transcribe(a).text) if memo else None,
                            **kwargs)
    utts = []
    for f in to_frames(signal):
        if clock is not None:
            clock.t = f.end_s
        utts += ep.push(f)
        if clock is not None and settle and ep.speculation is not None:
            wait([ep.speculation])
    utts += ep.flush()
    texts = [memo.transcribe(u.audio).text for u in utts] if memo else []
    return ep, utts, texts


def test_speculative_decode_runs_once_early_and_is_reused():
    clock = PacedClock()
    inner = SlowASR(clock)
    memo = MemoASR(inner)
    ep, (utt,), (text,) = run(*one_burst(), memo, clock)
    assert ep.speculated == 1
    assert inner.runs == [(pytest.approx(inner.runs[0][0]), len(utt.audio))]  # one decode
    assert memo.decodes == 1 and text == f"len{len(utt.audio)}ok"
    # it began about 200 ms into the pause (plus the 100 ms of kept trailing audio at most),
    # long before the 600 ms hangover closed the turn
    started = inner.runs[0][0]
    speech_end = 0.5 + 0.8
    assert speech_end + 0.2 <= started <= speech_end + 0.3
    assert utt.detected_at_s == pytest.approx(speech_end + 0.6, abs=0.05)


def test_the_closing_turn_waits_for_the_running_speculative_decode():
    clock = PacedClock()
    inner = SlowASR(clock, delay_s=0.3)  # still running at the hangover
    memo = MemoASR(inner)
    ep, (utt,), (text,) = run(*one_burst(), memo, clock, settle=False)
    # the hangover's check waited for it rather than decoding the same audio again
    assert ep.speculated == 1 and len(inner.runs) == 1 and memo.decodes == 1
    assert text == f"len{len(utt.audio)}ok"


def test_a_caller_who_goes_on_never_gets_the_speculative_result():
    clock = PacedClock()
    inner = SlowASR(clock)
    memo = MemoASR(inner)
    ep, (utt,), (text,) = run(*two_bursts(0.4), memo, clock)  # 400 ms: > 200, < 600
    assert ep.speculated >= 1
    lengths = [n for _, n in inner.runs]
    assert len(lengths) == 2 and lengths[0] < lengths[1] == len(utt.audio)
    assert memo.decodes == 2
    assert text == f"len{len(utt.audio)}ok"  # the whole turn's decode, not the first half's


def test_no_speculation_when_frames_arrive_faster_than_speech():
    inner = SlowASR()
    memo = MemoASR(inner)
    ep, (utt,), _ = run(*one_burst(), memo)  # the real clock: pushed as fast as it goes
    assert ep.speculated == 0 and len(inner.runs) == 1  # the hangover's check only


@pytest.mark.parametrize("paced", [False, True])
def test_speculation_changes_no_utterance(paced):
    results = []
    for speculate_ms in (0, 200):
        clock = PacedClock() if paced else None
        memo = MemoASR(SlowASR(clock))
        ep, utts, texts = run(*two_bursts(0.7), memo, clock, speculate_ms=speculate_ms)
        results.append(([(u.start_s, u.end_s, u.detected_at_s, u.audio.tobytes())
                         for u in utts], texts))
        assert (ep.speculated > 0) == (paced and speculate_ms > 0)
    assert results[0] == results[1] and len(results[0][0]) == 2


def test_off_the_600_ms_path_is_unchanged():
    asked: list[int] = []

    def partial(audio: np.ndarray) -> str:
        asked.append(len(audio))
        return "你好，我想问一下价格。"

    for clock in (None, PacedClock()):
        asked.clear()
        kwargs = {"clock": clock} if clock is not None else {}
        ep = TwoStageEndpointer(EndpointerConfig(),
                                ConfirmConfig(speculate_ms=0, early_close_ms=0),
                                one_burst()[1], partial=partial, **kwargs)
        signal = one_burst()[0]
        (utt,) = [u for f in to_frames(signal) for u in ep.push(f)] + ep.flush()
        assert utt.detected_at_s == pytest.approx(utt.end_s + 0.6, abs=0.021)
        assert ep.speculated == 0 and asked == [len(utt.audio)]  # once, at the hangover


@pytest.mark.parametrize("paced", [False, True])
def test_early_close_on_a_finished_sentence(paced):
    clock = PacedClock() if paced else None
    memo = MemoASR(SlowASR(clock, text="你们的价格是多少啊"))
    _, utts, _ = run(*two_bursts(0.45), memo, clock, early_close_ms=300)
    assert len(utts) == 2  # a 450 ms pause after a finished question ends the turn
    assert utts[0].detected_at_s - utts[0].end_s < 0.5


@pytest.mark.parametrize("paced", [False, True])
@pytest.mark.parametrize("text", ["我的电话是一三八。", "预算大概一百。", "我想问一下然后。",
                                  "那个。", "嗯"])
def test_early_close_never_inside_a_number_or_on_a_conjunction(paced, text):
    clock = PacedClock() if paced else None
    memo = MemoASR(SlowASR(clock, text=text))
    _, utts, _ = run(*two_bursts(0.45), memo, clock, early_close_ms=300)
    assert len(utts) == 1


def test_early_close_from_a_streaming_hint():
    signal, detector = two_bursts(0.45)
    ep = TwoStageEndpointer(confirm=ConfirmConfig(early_close_ms=300), detector=detector)
    out = []
    for f in to_frames(signal):
        if ep.in_speech:
            ep.hint_partial("能便宜点吗")
        out += ep.push(f)
    assert len(out + ep.flush()) == 2


@pytest.mark.parametrize("paced", [False, True])
@pytest.mark.parametrize("text", ["我想问一下你们那个", "因为我们公司的", "如果价格合适的话"])
def test_a_plainly_unfinished_turn_is_held_past_the_hangover(paced, text):
    """A 700 ms pause after words a sentence does not end on: one turn with the longer
    hangover, two without it."""
    for hold_ms, turns in ((0, 2), (1000, 1)):
        clock = PacedClock() if paced else None
        memo = MemoASR(SlowASR(clock, text=text))
        _, utts, _ = run(*two_bursts(0.7), memo, clock, unfinished_hangover_ms=hold_ms)
        assert len(utts) == turns, (hold_ms, text)


@pytest.mark.parametrize("text", ["那就先这样吧", "你们几点下班啊"])
def test_a_finished_turn_is_not_held(text):
    for early_ms in (0, 300):
        memo = MemoASR(SlowASR(text=text))
        _, utts, _ = run(*two_bursts(0.7), memo, early_close_ms=early_ms,
                         unfinished_hangover_ms=1000)
        assert len(utts) == 2
        waited = utts[0].detected_at_s - utts[0].end_s
        assert waited == pytest.approx(0.6, abs=0.05) if not early_ms else waited < 0.65


def test_the_longer_hangover_still_ends_the_turn():
    memo = MemoASR(SlowASR(text="因为我们公司的"))
    _, (utt,), _ = run(*one_burst(), memo, unfinished_hangover_ms=1000)
    assert utt.detected_at_s - utt.end_s == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("kwargs", [{"speculate_ms": -1}, {"early_close_ms": -20},
                                    {"unfinished_hangover_ms": -1}, {"paced_ratio": -0.5}])
def test_look_ahead_settings_are_checked(kwargs):
    with pytest.raises(AudioError):
        ConfirmConfig(**kwargs)


def test_no_speculation_while_the_recogniser_has_no_free_slot():
    """A busy box spends its decodes on closed turns: the look-ahead waits for a free slot
    and starts as soon as one is free (here 400 ms into the pause)."""
    for free_from_s, speculated in ((None, 0), (0.5 + 0.8 + 0.4, 1)):
        clock = PacedClock()
        inner = SlowASR(clock)
        memo = MemoASR(inner)
        ep = TwoStageEndpointer(EndpointerConfig(), ConfirmConfig(), one_burst()[1],
                                partial=lambda a, memo=memo: memo.transcribe(a).text,
                                clock=clock, idle=lambda clock=clock, at=free_from_s:
                                at is not None and clock.t >= at)
        utts = []
        for f in to_frames(one_burst()[0]):
            clock.t = f.end_s
            utts += ep.push(f)
            if ep.speculation is not None:
                wait([ep.speculation])
        assert ep.speculated == speculated and len(utts) == 1
        if speculated:
            assert inner.runs[0][0] == pytest.approx(free_from_s, abs=0.021)
