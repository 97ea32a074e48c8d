"""The answering-machine detector on espeak-ng voices and generated tones, through G.711.

The detector's numbers on real speech and real telephone prompts come from `tierline
amd-eval` (tests/e2e/test_amd_eval_cli.py); here each rule is checked on audio made for it.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers.require import missing

from tierline.audio.answering import AmdConfig, AnsweringMachineDetector, tone_of
from tierline.audio.g711 import ulaw_decode, ulaw_encode
from tierline.audio.io import resample

RATE = 8000


def line(x: np.ndarray) -> np.ndarray:
    """float 8 kHz → μ-law and back, int16."""
    return ulaw_decode(ulaw_encode(np.clip(x * 32768, -32768, 32767).astype(np.int16)))


def voice(text: str, speed: int = 160) -> np.ndarray:
    from tierline.audio.synthetic import espeak

    if not espeak.available():
        missing("espeak-ng is not installed (make setup)")
    return resample(espeak.render(text, speed=speed), 16000, RATE)


def quiet(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.standard_normal(int(seconds * RATE)) * 10 ** (-62 / 20)).astype(np.float32)


def tone(hz: float, seconds: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def detect(audio: np.ndarray, chunk: int = 160, **config):
    det = AnsweringMachineDetector(AmdConfig(**config))
    pcm = line(audio)
    for i in range(0, len(pcm), chunk):
        if det.push(pcm[i : i + chunk]) is not None:
            return det.decision
    return det.finish()


def test_a_pure_tone_is_tonal_and_voices_and_noise_are_not():
    cfg = AmdConfig()
    assert tone_of(tone(1000, 0.04).astype(np.float64), cfg) == pytest.approx(1000, abs=8)
    assert tone_of(tone(700, 0.04).astype(np.float64), cfg) == pytest.approx(700, abs=8)
    t = np.arange(320) / RATE
    buzz = sum(np.sin(2 * np.pi * 180 * k * t) / k for k in range(1, 12))  # a voiced vowel
    assert tone_of(buzz, cfg) is None
    assert tone_of(np.random.default_rng(1).standard_normal(320), cfg) is None
    assert tone_of(tone(250, 0.04).astype(np.float64), cfg) is None  # below the beep band


def test_a_short_greeting_then_a_wait_is_a_person_decided_during_the_wait():
    hello = voice("喂，你好")
    decision = detect(np.concatenate([quiet(0.5), hello, quiet(6.0)]))
    assert decision.outcome == "human", decision
    pcm = line(hello).astype(np.float64)
    frames = pcm[: len(pcm) // 160 * 160].reshape(-1, 160)
    loud = np.flatnonzero(10 * np.log10(np.mean(frames**2, axis=1) / 32768**2 + 1e-12) > -45)
    spoke_until = 0.5 + (loud[-1] + 1) * 0.02
    assert spoke_until + 0.9 <= decision.at_s <= spoke_until + 1.6  # not at the window's end
    assert decision.greeting_s <= 2.0


def test_a_voicemail_greeting_ends_at_its_beep():
    prompt = voice("您拨打的用户暂时无法接通，请在提示音后留言，留言完毕请挂机")
    beep_at = 0.4 + len(prompt) / RATE + 0.3
    audio = np.concatenate([quiet(0.4), prompt, quiet(0.3), tone(1000, 0.45), quiet(4)])
    decision = detect(audio)
    assert decision.outcome == "voicemail", decision
    assert decision.beep_hz == pytest.approx(1000, abs=10)
    assert beep_at + 0.15 <= decision.at_s <= beep_at + 0.35  # decided on the beep itself
    assert decision.confidence >= 0.9 and any("beep" in r for r in decision.reasons)


def test_a_click_shorter_than_a_beep_does_not_count():
    audio = np.concatenate([quiet(0.4), tone(1000, 0.1), quiet(6)])
    decision = detect(audio)
    assert decision.outcome != "voicemail" and decision.beep_hz is None
    longer = detect(np.concatenate([quiet(0.4), tone(1000, 0.25), quiet(6)]))
    assert longer.outcome == "voicemail"


def test_a_menu_that_keeps_talking_is_an_ivr():
    menu = voice("您好，欢迎致电客户服务中心，查询订单请按一，售后服务请按二，投诉建议请按三，"
                 "人工服务请按零，重听请按九", speed=150)
    audio = np.concatenate([quiet(0.5), menu, quiet(0.3), menu, quiet(3)])
    decision = detect(audio)
    assert decision.outcome == "ivr", decision
    assert decision.confidence >= 0.5


def test_nobody_speaking_is_unknown_after_the_no_greeting_time():
    decision = detect(quiet(10))
    assert decision.outcome == "unknown"
    assert decision.at_s == pytest.approx(AmdConfig().no_greeting_s, abs=0.05)


def test_chunking_does_not_change_the_decision():
    hello = voice("你好，哪位")
    audio = np.concatenate([quiet(0.3), hello, quiet(4)])
    a, b = detect(audio, chunk=160), detect(audio, chunk=733)
    assert (a.outcome, a.at_s) == (b.outcome, b.at_s)


def test_sixteen_khz_input_is_heard_the_same():
    hello = voice("喂")
    audio = line(np.concatenate([quiet(0.3), hello, quiet(4)]))
    det8 = AnsweringMachineDetector()
    det16 = AnsweringMachineDetector(rate=16000)
    det8.push(audio)
    det16.push((resample(audio.astype(np.float32), RATE, 16000)).astype(np.int16))
    assert det8.finish().outcome == det16.finish().outcome == "human"


def _turns(greeting_s: float, reply: bool, over_bot: bool):
    """A medium greeting (between the human and machine lengths), a pause the bot speaks
    into, then speech after the bot (a reply) or over it."""
    speech = voice("喂你好，我是张伟，现在在开会，有什么事情吗，请快一点说")
    greeting = speech[: int(greeting_s * RATE)]
    det = AnsweringMachineDetector()
    det.push(line(np.concatenate([quiet(0.3), greeting])))
    det.push(line(quiet(0.6)))
    assert det.paused and det.decision is None
    det.bot_started()
    if over_bot:
        det.push(line(quiet(0.3)))
        det.push(line(speech[: int(1.2 * RATE)]))
        det.push(line(quiet(0.1)))
        det.bot_stopped()
    else:
        det.push(line(quiet(0.3)))  # the bot's short "喂，您好"
        det.bot_stopped()
        det.push(line(quiet(0.4)))
    if reply:
        det.push(line(speech[int(0.5 * RATE) : int(1.5 * RATE)]))
    det.push(line(quiet(4)))
    return det.finish()


def test_answering_the_bot_is_a_person_even_after_a_longer_greeting():
    decision = _turns(2.6, reply=True, over_bot=False)
    assert decision.outcome == "human", decision
    assert "answered the bot after it spoke" in decision.reasons


def test_talking_on_over_the_bot_after_a_longer_greeting_is_a_machine():
    decision = _turns(2.6, reply=False, over_bot=True)
    assert decision.machine, decision
    assert any("over the bot" in r for r in decision.reasons)
