"""`tierline vad-eval SPEECH_DIR`: webrtcvad alone vs the two-stage endpointer, known boundaries.

Builds 8 kHz μ-law test calls from real speech clips (e.g. ../shared/data/aishell1_sample/wav)
under three conditions (quiet line, 10 dB SNR noise, coughs and clicks between turns) and
prints frame-level precision/recall and onset/offset errors per system and condition.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tierline.agent.clikit import UsageError, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("vad-eval", help="evaluate endpointing on synthetic calls of real speech")
    p.add_argument("speech", metavar="SPEECH_DIR", help="folder of 16 kHz speech WAV clips")
    p.add_argument("--prefix", default="",
                   help="only clips whose file name starts with this (e.g. one speaker)")
    p.add_argument("--per-call", type=int, default=6, help="clips per test call (default 6)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the call builder")
    p.add_argument("--json", metavar="OUT|-", help="write one JSON object per row")
    p.set_defaults(func=run)


def systems() -> dict:
    """The compared systems: frames → detected (onset, end) spans."""
    import numpy as np

    from tierline.audio.endpointer import TwoStageEndpointer
    from tierline.audio.evaluation.vadeval import mask_spans, utterance_spans
    from tierline.audio.silero import SileroVAD
    from tierline.audio.vad import Endpointer

    def run_endpointer(make):
        def system(frames):
            ep = make()
            out = [u for f in frames for u in ep.push(f)] + ep.flush()
            return utterance_spans(out)
        return system

    def webrtc_frames(frames):
        import webrtcvad

        vad = webrtcvad.Vad(2)
        return mask_spans([vad.is_speech(f.pcm.tobytes(), 16000) for f in frames])

    def silero_frames(frames):
        vad = SileroVAD()
        probs = np.array([vad.probability(f) for f in frames])
        return mask_spans(probs >= 0.5)

    return {
        "webrtcvad endpointer": run_endpointer(Endpointer),
        "two-stage endpointer": run_endpointer(TwoStageEndpointer),
        "webrtcvad frames": webrtc_frames,
        "silero frames (p>=0.5)": silero_frames,
    }


def run(args: argparse.Namespace) -> int:
    from tierline.audio.evaluation.vadeval import CONDITIONS, build_calls, evaluate, load_clips

    folder = Path(args.speech)
    if not folder.is_dir():
        raise UsageError(f"speech folder not found: {folder}")
    if args.per_call < 1:
        raise UsageError(f"--per-call must be at least 1, not {args.per_call}")
    clips = load_clips(folder, args.prefix)
    if len(clips) < args.per_call:
        raise UsageError(f"{folder}: need at least {args.per_call} WAV clips matching "
                         f"{args.prefix!r}, found {len(clips)}")
    out = None
    if args.json:
        from tierline.agent.clikit import open_out

        out, close = open_out(args.json)
    table = sys.stderr if args.json == "-" else sys.stdout
    print(f"{'condition':<8} {'system':<24} {'P':>5} {'R':>5} {'F1':>5} {'on ms':>6} "
          f"{'off ms':>6} {'on90':>5} {'off90':>5} {'FS':>3} {'FSev':>4} {'miss':>4}", file=table)
    for i, condition in enumerate(CONDITIONS):
        calls = build_calls(clips, condition, seed=args.seed + i, per_call=args.per_call)
        for name, s in evaluate(calls, systems()).items():
            print(f"{condition.name:<8} {name:<24} {s.precision:5.3f} {s.recall:5.3f} "
                  f"{s.f1:5.3f} {s.onset_ms:6.0f} {s.offset_ms:6.0f} {s.onset_p90_ms:5.0f} "
                  f"{s.offset_p90_ms:5.0f} {s.false_starts:3d} {s.event_false_starts:4d} "
                  f"{s.missed:4d}", file=table, flush=True)
            emit(out, {"condition": condition.name, "system": name, "calls": len(calls),
                       "audio_s": round(sum(c.duration_s for c in calls), 1),
                       "prefix": args.prefix, "seed": args.seed, **s.to_dict()})
    if out is not None and args.json != "-":
        out.close()
    return 0
