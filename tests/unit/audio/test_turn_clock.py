"""A turn's latency runs from the caller's last voiced frame (audio/turn_clock)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tierline.audio.records import Utterance
from tierline.audio.turn_clock import FrameClock, TurnTiming


def _utt(end_s: float) -> Utterance:
    return Utterance(0.0, end_s, np.zeros(16000, np.float32), end_s + 0.6)


def test_the_clock_dates_the_last_voiced_frame_by_its_arrival():
    clock = FrameClock()
    for k in range(1, 201):  # 4 s of 20 ms frames arriving at 1x from t=100
        clock.arrived(k * 0.02, 100.0 + k * 0.02)
    timing = clock.timing(_utt(3.0), declared_at=103.6)
    assert timing.voiced_end_at == pytest.approx(103.0)
    assert timing.endpoint_ms == pytest.approx(600.0)


def test_a_forgotten_frame_counts_as_declared_now():
    clock = FrameClock(keep_s=1.0)
    for k in range(1, 201):
        clock.arrived(k * 0.02, 100.0 + k * 0.02)
    timing = clock.timing(_utt(1.0), declared_at=104.0)
    assert timing.voiced_end_at == timing.declared_at and timing.endpoint_ms == 0.0


def test_the_decision_latency_includes_the_endpointer_wait():
    from tierline.agent.session import CallSession, Models
    from tierline.nlu.pipeline import Nlu
    from tierline.segmentation.features import CustomerProfile

    call = CallSession(Models(nlu=Nlu()), CustomerProfile(), {"id": "t"})
    now = time.perf_counter()
    turn = call.on_text("我想问一下价格", timing=TurnTiming(now - 0.6, now - 0.05))
    latency = turn.latency_ms
    assert latency["endpoint"] == pytest.approx(550.0)
    assert latency["decision"] >= 600.0 > latency["endpoint"]
    assert latency["decision"] >= latency["endpoint"] + latency["nlu"] + latency["tier"]
