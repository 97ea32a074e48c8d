"""Regenerate the bundled sample calls (8 kHz μ-law WAV) with espeak-ng.

Each call is a list of caller turns spoken by espeak-ng's ``cmn-latn-pinyin`` voice (the text
is turned into numbered pinyin with pypinyin; the plain ``cmn`` voice misreads characters),
separated by pauses, with a little seeded line noise, written as 8 kHz μ-law like a phone
line. ``stereo`` calls put bot prompts on channel 0 (agent) and the caller on channel 1.
Next to every ``NAME.wav`` go ``NAME.customer.json`` (CRM features) and
``NAME.expected.json`` (tier and route the pipeline must reach, and the turn a transfer is
decided at).

Usage: python samples/make_samples.py [--out samples/calls]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from pypinyin import Style, lazy_pinyin

RATE = 8000
PAUSE_S = 1.4
SPEED_WPM = "130"
PITCH = "30"
WORD_GAP = "0"

CALLS: list[dict] = [
    {
        "id": "high_budget_senior_sales",
        "turns": ["你好，我们想采购一套客服系统。", "我们的预算是七十万。", "我们的员工有两千人。"],
        "customer": {"id": "C1001", "name": "华东物流", "browse_duration": 45,
                     "click_times": 80, "consult_count": 3, "contract_value": 0,
                     "renewal_rate": 0, "response_speed": 2, "complaint_count": 0,
                     "referral_count": 0},
        "expected": {"tier": "high", "action": "transfer", "queue": "senior_sales",
                     "at_turn": 1},
    },
    {
        "id": "high_customization_senior_sales",
        "turns": ["能不能按我们的需求定制？", "报表能不能按我们的要求定制？",
                  "我们想按我们的要求改一下。"],
        "customer": {"id": "C1002", "name": "南方医药", "browse_duration": 20,
                     "click_times": 30, "consult_count": 2, "contract_value": 0,
                     "renewal_rate": 0, "response_speed": 6, "complaint_count": 0,
                     "referral_count": 0},
        "expected": {"tier": "high", "action": "transfer", "queue": "senior_sales",
                     "at_turn": 2},
    },
    {
        "id": "medium_price_continue",
        "stereo": True,
        "agent": ["您好，这里是云帆科技，请问有什么可以帮您？", "好的，我们有免费试用。"],
        "turns": ["你好，我想问一下你们的价格是多少。", "我想体验一下。"],
        "customer": {"id": "C1003", "name": "个体商户", "browse_duration": 12,
                     "click_times": 15, "consult_count": 1},
        "expected": {"tier": "medium", "action": "continue", "queue": None},
    },
    {
        "id": "medium_hesitant_continue",
        "turns": ["你好，我想了解一下。", "不过我再考虑一下吧。"],
        "customer": {"id": "C1004", "name": "杭州教育", "browse_duration": 30,
                     "click_times": 40, "consult_count": 2, "contract_value": 0,
                     "renewal_rate": 0, "response_speed": 12, "complaint_count": 0,
                     "referral_count": 0},
        "expected": {"tier": "medium", "action": "continue", "queue": None},
    },
    {
        "id": "low_refusal_continue",
        "turns": ["我们不需要。", "不用了，谢谢。"],
        "customer": {"id": "C1005", "browse_duration": 0, "click_times": 0,
                     "consult_count": 0, "contract_value": 0, "renewal_rate": 0,
                     "response_speed": 48, "complaint_count": 0, "referral_count": 0},
        "expected": {"tier": "low", "action": "continue", "queue": None},
    },
    {
        "id": "churn_competitor_retention",
        "turns": ["我们的合同下个月到期。", "我们不想用你们的系统了。"],
        "customer": {"id": "C1006", "name": "星河零售", "browse_duration": 5,
                     "click_times": 4, "consult_count": 6, "contract_value": 300000,
                     "renewal_rate": 0.5, "response_speed": 24, "complaint_count": 2,
                     "referral_count": 1},
        "expected": {"tier": "churn_risk", "action": "transfer", "queue": "retention",
                     "at_turn": 0},
    },
    {
        "id": "angry_care",
        "turns": ["你们的系统又出问题了。", "我非常生气！"],
        "voice": {"speed": "160", "amplitude": "200", "pitch": "70"},  # agitated voice
        "customer": {"id": "C1007", "name": "北辰制造", "browse_duration": 2,
                     "click_times": 3, "consult_count": 8, "contract_value": 150000,
                     "renewal_rate": 1.0, "response_speed": 4, "complaint_count": 1,
                     "referral_count": 0},
        "expected": {"tier": "churn_risk", "action": "transfer", "queue": "care",
                     "at_turn": 1},
    },
    {
        "id": "human_request_general",
        "turns": ["我想开发票。", "你是机器人吗？我要找真人。"],
        "customer": {"id": "C1008", "name": "西岭餐饮", "browse_duration": 10,
                     "click_times": 12, "consult_count": 1, "contract_value": 20000,
                     "renewal_rate": 1.0, "response_speed": 8, "complaint_count": 0,
                     "referral_count": 0},
        "expected": {"tier": "medium", "action": "transfer", "queue": "general",
                     "at_turn": 1},
    },
]


def speak(text: str, workdir: Path, voice: dict | None = None) -> np.ndarray:
    """Render Mandarin text with espeak-ng's pinyin voice; float32 at 8 kHz.

    ``voice`` may set espeak-ng's "speed" (-s), "amplitude" (-a) and "pitch" (-p).
    """
    voice = voice or {}
    pinyin = " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True,
                                  tone_sandhi=True))
    wav = workdir / "tts.wav"
    subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-s", voice.get("speed", SPEED_WPM),
                    "-g", WORD_GAP, "-a", voice.get("amplitude", "80"),
                    "-p", voice.get("pitch", PITCH), "-w", str(wav), pinyin],
                   check=True, capture_output=True)
    audio, rate = sf.read(wav, dtype="float32")
    return soxr.resample(audio, rate, RATE).astype(np.float32)


def build_call(call: dict, workdir: Path, rng: np.random.Generator) -> np.ndarray:
    """Lay the turns out on a timeline; returns (n,) mono or (n, 2) agent/caller."""
    pause = np.zeros(int(PAUSE_S * RATE), np.float32)
    agent_turns = call.get("agent", [])
    caller, agent = [pause], [pause]
    for i, text in enumerate(call["turns"]):
        if call.get("stereo") and i < len(agent_turns):
            prompt = speak(agent_turns[i], workdir)
            agent += [prompt, pause]
            caller += [np.zeros_like(prompt), pause]
        said = speak(text, workdir, call.get("voice"))
        caller += [said, pause]
        agent += [np.zeros_like(said), pause]
    caller_track = np.concatenate(caller)
    noise = rng.normal(0, 10 ** (-55 / 20), caller_track.shape).astype(np.float32)
    caller_track = np.clip(caller_track * 0.7 + noise, -1, 1)
    if not call.get("stereo"):
        return caller_track
    agent_track = np.clip(np.concatenate(agent) * 0.7 + noise, -1, 1)
    return np.stack([agent_track, caller_track], axis=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "calls"))
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        print("make_samples: espeak-ng is not installed (apt-get install espeak-ng)",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        for call in CALLS:
            audio = build_call(call, Path(tmp), rng)
            sf.write(out / f"{call['id']}.wav", audio, RATE, subtype="ULAW")
            for kind in ("customer", "expected"):
                (out / f"{call['id']}.{kind}.json").write_text(
                    json.dumps(call[kind], ensure_ascii=False, indent=2) + "\n",
                    encoding="utf-8")
            (out / f"{call['id']}.txt").write_text("\n".join(call["turns"]) + "\n",
                                                    encoding="utf-8")
            print(f"{call['id']}: {len(audio) / RATE:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
