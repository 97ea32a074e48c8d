"""`tierline replay AUDIO...`: recorded calls through VAD → Whisper → NLU → tier → route."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tierline.agent.clikit import (
    UsageError,
    add_asr_flags,
    add_nlu_flags,
    emit,
    load_asr,
    load_nlu,
    open_out,
    summary_line,
    turn_line,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="replay recorded calls through the pipeline")
    p.add_argument("audio", nargs="+", metavar="AUDIO")
    p.add_argument("--customer", metavar="C.json",
                   help="customer CRM JSON (default: AUDIO's sibling NAME.customer.json)")
    p.add_argument("--json", metavar="OUT|-", help="write one JSON object per call")
    p.add_argument("--report", metavar="OUT.html", help="write an HTML report")
    p.add_argument("--realtime", action="store_true", help="pace frames at 1x real time")
    p.add_argument("--channel", default="caller",
                   help="caller | agent | channel number (default caller)")
    p.add_argument("--caller-channel", type=int, default=1,
                   help="caller's channel in stereo recordings (default 1; agent is 0)")
    p.add_argument("--vad-aggressiveness", type=int, default=2, choices=range(4))
    add_asr_flags(p)
    add_nlu_flags(p)
    p.set_defaults(func=run)


def _parse_channel(value: str) -> str | int:
    if value in ("caller", "agent"):
        return value
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--channel must be caller, agent or a channel number, not {value!r}") \
            from None


def _customer_for(audio: Path, explicit: str | None):
    """The explicit --customer file, else AUDIO's sibling NAME.customer.json, else unknown."""
    from tierline.segmentation.features import CustomerProfile, load_customer

    if explicit:
        return load_customer(explicit)
    sibling = audio.with_name(audio.stem + ".customer.json")
    return load_customer(sibling) if sibling.is_file() else CustomerProfile()


def _expected_for(audio: Path) -> dict | None:
    """A sample's NAME.expected.json (tier and route it must reach), if present."""
    sibling = audio.with_name(audio.stem + ".expected.json")
    if sibling.is_file():
        try:
            return json.loads(sibling.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
    return None


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from tierline.agent.policy import RoutingPolicy
    from tierline.agent.replay import ReplayOptions, replay_file
    from tierline.agent.report import write_report
    from tierline.agent.session import CallSession, Models
    from tierline.audio.endpointer import EndpointingConfig
    from tierline.audio.io import probe
    from tierline.audio.vad import EndpointerConfig
    from tierline.segmentation.outcomes import remember_call

    paths = [Path(p) for p in args.audio]
    infos = [probe(p) for p in paths]  # fail fast on bad files, before loading models
    explicit = _customer_for(paths[0], args.customer) if args.customer else None
    options = ReplayOptions(
        realtime=args.realtime,
        channel=_parse_channel(args.channel),
        caller_channel=args.caller_channel,
        endpointing=EndpointingConfig(
            endpointer=EndpointerConfig(aggressiveness=args.vad_aggressiveness)),
    )
    models = Models(nlu=load_nlu(args), asr=load_asr(args))
    out, close = open_out(args.json)
    table = sys.stderr if args.json == "-" else sys.stdout
    results, failed = [], None
    try:
        for path, info in zip(paths, infos, strict=True):
            customer = explicit or _customer_for(path, None)
            call = {"id": path.stem, "audio": str(path), "customer": customer.id or None,
                    "sample_rate": info.sample_rate, "channels": info.channels,
                    "realtime": args.realtime,
                    "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            expected = _expected_for(path)
            if expected:
                call["expected"] = expected
            session = CallSession(models, customer, call, RoutingPolicy())
            print(f"-- {path} ({info.duration_s:.1f} s, {info.sample_rate} Hz, "
                  f"{info.channels} ch) initial tier {session.record.initial_tier.label}",
                  file=table, flush=True)
            bar = tqdm(total=round(info.duration_s, 1), unit="s", file=sys.stderr,
                       disable=None if info.duration_s > 30 else True, leave=False,
                       desc=path.name)

            def progress(pos: float, bar=bar) -> None:
                bar.update(round(pos, 1) - bar.n)

            def show(turn, bar=bar) -> None:
                bar.clear()
                print(turn_line(turn), file=table, flush=True)

            record, error = replay_file(path, session, options, on_turn=show,
                                        on_progress=progress)
            bar.close()
            result = record.to_dict()
            results.append(result)
            emit(out, result)
            print(summary_line(path.name, result), file=table, flush=True)
            if problem := remember_call(path.stem, session.scorer, customer.id or None):
                print(f"tierline: warning: {problem}", file=sys.stderr)  # for `feedback`
            if error:
                failed = f"{path}: {error} (kept {len(record.turns)} turns decided before it)"
                break
    finally:
        if close and out is not None:
            out.close()
        if args.report and results:
            write_report(results, args.report, "Tierline replay report")
            print(f"report written to {args.report}", file=sys.stderr)
    if failed:
        raise UsageError(failed)
    return 0
