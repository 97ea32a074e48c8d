"""CPU cost of the voice front-end per live call: two-stage VAD + prosody + emotion.

Test calls are built from real speech (AISHELL clips with gaps, line noise and coughs, through the 8
kHz μ-law channel; see tierline.audio.evaluation.vadeval). Each call runs as a live call would:
every 20 ms frame through the barge-in controller (webrtcvad + Silero + endpointer), every closed
utterance through prosody, per-caller arousal and emotion fusion. CPU time (process time, one
onnxruntime thread) divided by the call's audio duration is the share of one core a live call needs.
Whisper and NLU are not included (they have their own budgets).

Usage: python benchmarks/bench_voice.py [--speech DIR] [--calls N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from timing import percentile


def barge_in(clips: list, coughs: int = 100, seed: int = 5) -> dict:
    """Prompts interrupted by synthetic coughs (should be 0) and by real speech (latency)."""
    from tierline.audio.bargein import BargeInController, StopPrompt
    from tierline.audio.evaluation.vadeval import (
        RATE,
        TestCall,
        pink_noise,
        speech_span,
        synth_cough,
    )
    from tierline.audio.io import telephone_round_trip

    rng = np.random.default_rng(seed)
    level = 10 ** (-24 / 20)

    def stops(audio: np.ndarray) -> list[float]:
        audio = audio + pink_noise(len(audio), rng) * level / 10 ** (25 / 20)
        call = TestCall(telephone_round_trip(np.clip(audio, -1, 1).astype(np.float32)), (),
                        (), None)
        ctl = BargeInController()
        ctl.start_prompt("prompt")
        return [e.at_s for f in call.frames() for e in ctl.push(f) if isinstance(e, StopPrompt)]

    cough_stops = 0
    for _ in range(coughs):
        audio = np.zeros(int(2.5 * RATE), np.float32)
        cough = synth_cough(rng, level)
        audio[RATE // 2 : RATE // 2 + len(cough)] += cough
        cough_stops += bool(stops(audio))
    latencies, missed = [], 0
    for clip in clips:
        span = speech_span(clip)
        scaled = clip * level / (np.sqrt(np.mean(clip[np.abs(clip) > 0.003] ** 2)) + 1e-9)
        at = stops(np.concatenate([np.zeros(RATE, np.float32), scaled]))
        if at and span:
            latencies.append((at[0] - 1.0 - span[0]) * 1000)
        else:
            missed += 1
    return {"coughs_that_stopped_the_prompt": f"{cough_stops}/{coughs}",
            "speech_that_stopped_the_prompt": f"{len(latencies)}/{len(clips)}",
            "stop_after_speech_onset_ms": {"median": round(statistics.median(latencies)),
                                           "p90": round(percentile(latencies, 90))}}


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech", default=str(root.parent / "shared/data/aishell1_sample/wav"))
    parser.add_argument("--calls", type=int, default=10, help="number of test calls")
    parser.add_argument("--json", help="write the summary as JSON to this file")
    args = parser.parse_args()

    from tierline.audio.arousal import CallerVoice
    from tierline.audio.bargein import BargeInController, UserTurn
    from tierline.audio.emotion import fuse_emotion
    from tierline.audio.evaluation.vadeval import CONDITIONS, build_calls, load_clips
    from tierline.audio.prosody import extract_prosody

    clips = load_clips(args.speech)
    if len(clips) < 6:
        print(f"bench_voice: need speech clips in {args.speech}", file=sys.stderr)
        return 2
    calls = []
    for i, condition in enumerate(CONDITIONS):
        calls += build_calls(clips, condition, seed=100 + i, per_call=6)
    calls = calls[: args.calls]

    t0 = time.process_time()
    extract_prosody(clips[0])  # first call pays librosa's import and numba compilation
    cold_ms = (time.process_time() - t0) * 1000

    shares, vad_us, prosody_ms, emotion_us = [], [], [], []
    for call in calls:
        frames = call.frames()
        ctl, voice = BargeInController(), CallerVoice()
        ctl.start_prompt("greeting")
        cpu = 0.0
        for frame in frames:
            t = time.process_time()
            events = ctl.push(frame)
            dt = time.process_time() - t
            cpu += dt
            vad_us.append(dt * 1e6)
            for event in events:
                if isinstance(event, UserTurn):
                    t = time.process_time()
                    v = voice.observe(event.utterance.audio, text="我" * 12)
                    t2 = time.process_time()
                    fuse_emotion(v, -0.2, 0.0, 0.0)
                    t3 = time.process_time()
                    cpu += t3 - t
                    prosody_ms.append((t2 - t) * 1000)
                    emotion_us.append((t3 - t2) * 1e6)
        shares.append(100 * cpu / call.duration_s)

    summary = {
        "calls": len(calls),
        "audio_s": round(sum(c.duration_s for c in calls), 1),
        "cpu_share_of_one_core_pct": {"median": round(statistics.median(shares), 3),
                                      "p95": round(percentile(shares, 95), 3),
                                      "max": round(max(shares), 3)},
        "vad_per_20ms_frame_us": {"median": round(statistics.median(vad_us), 1),
                                  "p95": round(percentile(vad_us, 95), 1)},
        "prosody_arousal_per_utterance_ms": {"median": round(statistics.median(prosody_ms), 2),
                                             "p95": round(percentile(prosody_ms, 95), 2),
                                             "n": len(prosody_ms)},
        "emotion_fusion_us": {"median": round(statistics.median(emotion_us), 1)},
        "cold_first_prosody_ms": round(cold_ms, 1),
        "target_pct": 5.0,
        "barge_in": barge_in(load_clips(args.speech, "BAC009S0252")),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
