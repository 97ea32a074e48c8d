"""Per-turn latency that livekit-agents reports for Tierline calls (transcription_delay,
end_of_turn_delay), next to our own decision latency, over sample calls in one run.

Each call is played into a real AgentSession through the file input at ``--speed`` x real time
(1 = a phone line). Prints median and p95 per metric.

Usage: python benchmarks/bench_livekit_turns.py [--speed 1] [--calls N] [CALL.wav ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
from pathlib import Path

from timing import percentile as pct

from tierline.agent.livekit.call import run_file_call
from tierline.agent.livekit.config import parse_config
from tierline.agent.policy import RoutingPolicy
from tierline.agent.session import CallSession, Models
from tierline.dialects.asr import load_whisper
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import CustomerProfile, load_customer


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("audio", nargs="*")
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--calls", type=int, default=3, help="sample calls when no AUDIO given")
    ap.add_argument("--json", metavar="OUT", help="write per-turn numbers")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    paths = [Path(p) for p in args.audio] or sorted(Path("samples/calls").glob("*.wav"))[
        :args.calls]
    models = Models(nlu=Nlu(), asr=load_whisper())
    config = parse_config({"worker": {"callbacks_file": "/dev/null"}}, "bench")
    rows = []
    for path in paths:
        sibling = path.with_name(path.stem + ".customer.json")
        customer = load_customer(sibling) if sibling.is_file() else CustomerProfile()
        session = CallSession(models, customer, {"id": path.stem}, RoutingPolicy())
        result = asyncio.run(run_file_call(path, session, config, speed=args.speed))
        metrics = result.record.call["livekit"]["turn_metrics"]
        for turn, m in zip(result.record.turns, metrics, strict=False):
            rows.append({"call": path.stem, "turn": turn.index,
                         "transcription_delay_ms": 1000 * (m["transcription_delay"] or 0),
                         "end_of_turn_delay_ms": 1000 * (m["end_of_turn_delay"] or 0),
                         "asr_ms": turn.latency_ms["asr"],
                         "decision_ms": turn.latency_ms["decision"]})
        print(f"{path.name}: {len(result.record.turns)} turns", file=sys.stderr)
    print(f"{len(rows)} turns from {len(paths)} calls at {args.speed:g}x real time")
    for key in ("transcription_delay_ms", "end_of_turn_delay_ms", "asr_ms", "decision_ms"):
        vals = [r[key] for r in rows]
        print(f"{key:<24} median {statistics.median(vals):7.0f}   p95 {pct(vals, 95):7.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
