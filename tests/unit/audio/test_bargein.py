"""Barge-in controller: typed events, stop within the confirming frame, coughs do not interrupt."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.voice_audio import espeak, silence, to_frames

from tierline.audio.bargein import (
    BargeInController,
    FalseAlarm,
    SpeechSuspected,
    StopPrompt,
    UserTurn,
)
from tierline.audio.detector import ScriptedDetector
from tierline.audio.endpointer import ConfirmConfig
from tierline.audio.evaluation.vadeval import pink_noise, synth_cough

RATE = 16000


def loud_noise(seconds: float) -> np.ndarray:
    return np.random.default_rng(2).normal(0, 0.2, int(seconds * RATE)).astype(np.float32)


class FakePlayer:
    """A transport's prompt player: plays one frame per tick until stopped."""

    def __init__(self) -> None:
        self.playing = True
        self.stopped_at: float | None = None

    def tick(self, now: float) -> None:
        if self.playing:
            self.last_played = now

    def stop(self, now: float) -> None:
        self.playing, self.stopped_at = False, now


def drive(ctl: BargeInController, frames) -> tuple[list, FakePlayer, int | None]:
    """Play a prompt over ``frames``; return events, the player and the frame index of the stop."""
    player, events, stop_index = FakePlayer(), [], None
    ctl.start_prompt("greeting")
    for i, frame in enumerate(frames):
        player.tick(frame.start_s)
        for event in ctl.push(frame):
            events.append(event)
            if isinstance(event, StopPrompt):
                player.stop(frame.end_s)
                stop_index = i
    events += ctl.flush()
    return events, player, stop_index


def test_stop_comes_with_the_frame_that_confirms():
    signal = np.concatenate([silence(0.5), loud_noise(1.0), silence(1.0)])
    frames = to_frames(signal)

    def script(i: int) -> float:
        return 0.9 if i >= 30 else 0.0  # speech onset at frame 25, detector agrees from 30

    ctl = BargeInController(confirm=ConfirmConfig(confirm_ms=160),
                            detector=ScriptedDetector(script))
    events, player, stop_index = drive(ctl, frames)
    kinds = [type(e) for e in events]
    assert kinds[0] is SpeechSuspected and StopPrompt in kinds and kinds[-1] is UserTurn
    assert stop_index == 30 + 8 - 1  # the 8th confirmed frame (160 ms)
    stop = next(e for e in events if isinstance(e, StopPrompt))
    assert stop.at_s == frames[stop_index].end_s and stop.prompt_id == "greeting"
    assert stop.speech_start_s == pytest.approx(0.5, abs=0.07)
    assert player.stopped_at - stop.at_s <= 0.020  # within one frame window
    assert player.last_played <= stop.at_s
    turn = events[-1]
    assert turn.interrupted and turn.utterance.speech_start_s == pytest.approx(0.5, abs=0.07)
    assert ctl.prompt_id is None


def test_rejected_candidate_is_a_false_alarm():
    signal = np.concatenate([silence(0.5), loud_noise(0.3), silence(1.0)])
    ctl = BargeInController(detector=ScriptedDetector(lambda i: 0.0))
    events, player, _ = drive(ctl, to_frames(signal))
    assert [type(e) for e in events] == [SpeechSuspected, FalseAlarm]
    assert player.playing


def test_without_a_prompt_only_turns_are_reported():
    signal = np.concatenate([silence(0.5), loud_noise(1.0), silence(1.0)])
    ctl = BargeInController(detector=ScriptedDetector(lambda i: 0.9 if i >= 25 else 0.0))
    events = [e for f in to_frames(signal) for e in ctl.push(f)] + ctl.flush()
    assert [type(e) for e in events] == [UserTurn]
    assert not events[0].interrupted


# ----------------------------------------------------------------- real Silero


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return espeak("wei, ni hao, wo xiang wen yi xia")


def test_caller_speech_over_prompt_stops_it(speech):
    rng = np.random.default_rng(4)
    signal = np.concatenate([silence(1.0), speech, silence(1.0)])
    signal = signal + pink_noise(len(signal), rng) * 0.003
    events, player, _ = drive(BargeInController(), to_frames(signal))
    stop = next(e for e in events if isinstance(e, StopPrompt))
    onset = 1.0 + np.argmax(np.abs(speech) > 0.02) / RATE
    assert onset < stop.at_s < onset + 0.5
    assert player.stopped_at - stop.at_s <= 0.020


@pytest.mark.parametrize("seed", range(8))
def test_a_cough_does_not_interrupt(seed, speech):
    rng = np.random.default_rng(seed)
    level = float(np.sqrt(np.mean(speech[np.abs(speech) > 0.01] ** 2)))
    signal = silence(2.0)
    cough = synth_cough(rng, level)
    signal[RATE // 2 : RATE // 2 + len(cough)] += cough
    signal += pink_noise(len(signal), rng) * level / 30
    events, player, _ = drive(BargeInController(), to_frames(signal))
    assert not any(isinstance(e, StopPrompt) for e in events)
    assert player.playing
