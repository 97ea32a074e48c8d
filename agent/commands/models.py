"""`tierline models assemble|verify|path`: the offline Whisper models (base and call-centre)."""

from __future__ import annotations

import argparse
import sys
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="assemble or verify the offline Whisper models")
    p.add_argument("action", choices=["assemble", "verify", "path"])
    p.add_argument("--force", action="store_true", help="rebuild even if present")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tierline.dialects.models import (
        assemble_whisper_base,
        assemble_whisper_callcentre,
        resolve_readings_model,
        verify_whisper_base,
        whisper_base_dir,
        whisper_callcentre_dir,
    )

    if args.action == "path":
        print(whisper_base_dir())
        print(whisper_callcentre_dir())
        return 0
    if args.action == "verify":
        verify_whisper_base(whisper_base_dir())
        print(f"ok: {whisper_base_dir()}")
        print(f"ok: {resolve_readings_model(None)}")
        return 0
    shown = [-1]

    def progress(done: int, total: int) -> None:
        pct = done * 100 // total
        if pct // 10 != shown[0]:
            shown[0] = pct // 10
            print(f"\rassembling Whisper base: {pct:3d}%", end="", file=sys.stderr)

    t0 = time.perf_counter()
    path = assemble_whisper_base(force=args.force, progress=progress)
    if shown[0] >= 0:
        print(file=sys.stderr)
    print(f"Whisper base ready in {path} ({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    path = assemble_whisper_callcentre(force=args.force)
    print(f"call-centre model ready in {path} ({time.perf_counter() - t0:.1f} s)")
    return 0
