"""`tierline worker start|offline`: the LiveKit agent worker, live or on a recorded call."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from tierline.agent.clikit import UsageError, add_asr_flags, emit, open_out, summary_line


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="LiveKit agent worker (live calls or a recorded call)")
    wsub = p.add_subparsers(dest="worker_command", required=True, metavar="start|offline")

    s = wsub.add_parser("start", help="register with LIVEKIT_URL and take calls")
    s.add_argument("--config", metavar="C.toml", help="LiveKit/telephony config file")
    s.add_argument("--port", type=int, help="health/worker HTTP port (default from config, 8081)")
    s.add_argument("--max-retry", type=int, default=3,
                   help="reconnect attempts before giving up (default 3)")
    s.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    add_asr_flags(s)
    s.set_defaults(func=run_start)

    o = wsub.add_parser("offline", help="one recorded call through the real worker, no server")
    o.add_argument("audio", metavar="CALL.wav")
    o.add_argument("--customer", metavar="C.json",
                   help="customer CRM JSON (default: CALL's sibling NAME.customer.json)")
    o.add_argument("--json", metavar="OUT|-", help="write the call record (replay contract)")
    o.add_argument("--speed", type=float, default=1.0,
                   help="pace the caller at X times real time (default 1; 0 = no pacing)")
    o.add_argument("--config", metavar="C.toml", help="LiveKit/telephony config file")
    o.add_argument("--channel", default="caller",
                   help="caller | agent | channel number (default caller)")
    o.add_argument("--caller-channel", type=int, default=1,
                   help="caller's channel in stereo recordings (default 1; agent is 0)")
    o.add_argument("--vad-aggressiveness", type=int, default=2, choices=range(4))
    o.add_argument("--timeout", type=float, default=900.0, help="longest run, seconds")
    o.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    add_asr_flags(o)
    o.set_defaults(func=run_offline)


def _setup(args: argparse.Namespace) -> None:
    import logging

    try:
        import livekit.agents  # noqa: F401
    except ImportError:
        raise UsageError("livekit-agents is not installed (pip install -e .)") from None
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if args.threads < 1:
        raise UsageError(f"--threads must be at least 1, not {args.threads}")
    from tierline.agent.livekit.worker import (
        ENV_ASR_MODEL,
        ENV_ASR_READINGS,
        ENV_ASR_THREADS,
        ENV_DIALECT,
    )
    from tierline.dialects.models import resolve_asr_model, resolve_readings_model

    os.environ[ENV_ASR_MODEL] = str(resolve_asr_model(args.asr_model))  # fail fast here
    reader = None if args.no_readings else resolve_readings_model(args.asr_model)
    os.environ[ENV_ASR_READINGS] = str(reader or "")
    os.environ[ENV_DIALECT] = "0" if getattr(args, "no_dialect", False) else "1"
    os.environ[ENV_ASR_THREADS] = str(args.threads)


def run_start(args: argparse.Namespace) -> int:
    import asyncio

    from tierline.agent.livekit.config import load_config
    from tierline.agent.livekit.worker import ENV_CONFIG, serve

    config = load_config(args.config)
    _setup(args)
    if args.config:
        os.environ[ENV_CONFIG] = str(Path(args.config).resolve())
    if args.max_retry < 0:
        raise UsageError("--max-retry must be >= 0")
    asyncio.run(serve(config, port=args.port, max_retry=args.max_retry))
    return 0


def run_offline(args: argparse.Namespace) -> int:
    import asyncio

    from tierline.agent.commands.replay import _customer_for, _expected_for, _parse_channel
    from tierline.agent.livekit.config import load_config
    from tierline.agent.livekit.worker import run_offline as run_job
    from tierline.audio.io import probe

    path = Path(args.audio)
    info = probe(path)
    if args.speed < 0:
        raise UsageError(f"--speed must be >= 0, not {args.speed}")
    channel = _parse_channel(args.channel)
    customer = _customer_for(path, args.customer)
    load_config(args.config)  # bad config: one line, before any process starts
    _setup(args)
    out, close = open_out(args.json)
    table = sys.stderr if args.json == "-" else sys.stdout
    call = {"id": path.stem, "audio": str(path), "customer": customer.id or None,
            "sample_rate": info.sample_rate, "channels": info.channels, "realtime": False,
            "transport": "livekit", "speed": args.speed,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    expected = _expected_for(path)
    if expected:
        call["expected"] = expected
    with tempfile.TemporaryDirectory(prefix="tierline-worker-") as tmp:
        sibling = path.with_name(path.stem + ".customer.json")
        customer_path = args.customer or (str(sibling) if sibling.is_file() else None)
        job = {"audio": str(path.resolve()), "call": call,
               "customer_path": str(Path(customer_path).resolve()) if customer_path else None,
               "speed": args.speed, "channel": channel, "caller_channel": args.caller_channel,
               "vad_aggressiveness": args.vad_aggressiveness,
               "events": str(Path(tmp) / "events.jsonl")}
        print(f"-- {path} ({info.duration_s:.1f} s, {info.sample_rate} Hz, {info.channels} ch) "
              f"through the LiveKit worker at {args.speed:g}x", file=table, flush=True)

        def show(event: dict) -> None:
            if event.get("event") == "turn":
                print(event["line"], file=table, flush=True)

        last = asyncio.run(run_job(job, args.config, on_event=show, timeout=args.timeout))
    try:
        if last.get("event") != "record":
            raise UsageError(f"{path}: worker failed: {last.get('error')}")
        result = last["record"]
        emit(out, result)
        print(summary_line(path.name, result), file=table, flush=True)
    finally:
        if close and out is not None:
            out.close()
    if last.get("error"):
        raise UsageError(f"{path}: {last['error']} (kept {len(result['turns'])} turns decided "
                         "before it)")
    return 0
