"""Shared pieces of the command line: the bad-input error, JSON output, ASR loading, table lines.

Every subcommand module in :mod:`tierline.agent.commands` uses these so that output formats and
error handling stay the same across commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from tierline.core.errors import TierlineError


class UsageError(TierlineError, ValueError):
    """A command-line value or input file is wrong; printed as one line, exit code 2."""


def open_out(target: str | None) -> tuple[TextIO | None, bool]:
    """Open a ``--json`` target: None, ``-`` (stdout) or a file path.

    Returns:
        The stream (None when no output is wanted) and whether the caller must close it.

    Raises:
        UsageError: the file cannot be created.
    """
    if target is None:
        return None, False
    if target == "-":
        return sys.stdout, False
    try:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        return open(target, "w", encoding="utf-8"), True  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None


def emit(out: TextIO | None, obj: dict[str, Any]) -> None:
    """Write one JSON object as a line and flush (so a crash keeps what was written)."""
    if out is not None:
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        out.flush()


def add_nlu_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by every command that reads caller text."""
    p.add_argument("--allow-fallback", action="store_true",
                   help="when a shipped NLU model is missing or corrupt, use the keyword rules "
                        "and the sentiment lexicon instead of stopping (results get worse)")


def load_nlu(args: argparse.Namespace):
    """The NLU stage with the shipped models (keyword rules only with --allow-fallback)."""
    from tierline.nlu.pipeline import Nlu

    return Nlu(allow_fallback=getattr(args, "allow_fallback", False))


def add_asr_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by every command that runs Whisper."""
    p.add_argument("--asr-model", metavar="DIR",
                   help="faster-whisper model directory (default: bundled Whisper base)")
    p.add_argument("--prompt", nargs="?", const="domain", metavar="TEXT",
                   help="decoder prompt: TEXT, or the built-in call-centre prompt when given "
                        "without TEXT (default: none; see README for why)")
    p.add_argument("--threads", type=int, default=2,
                   help="CPU threads for ASR (default 2: two decodes at once, one thread each)")
    p.add_argument("--asr-window", choices=["dynamic", "fixed"], default="dynamic",
                   help="Whisper's encoder window: the turn plus 1 s of silence (dynamic, "
                        "default) or every turn padded to 30 s (fixed, as before)")
    p.add_argument("--no-dialect", action="store_true",
                   help="skip dialect identification (every turn's dialect stays null and "
                        "every caller is decoded by Whisper base)")
    p.add_argument("--no-readings", action="store_true",
                   help="skip the call-centre decoder's readings of each turn (the intent is "
                        "then read from Whisper base's beam alone; saves a second decode, "
                        "about a third of the ASR time)")


def add_endpointing_flags(p: argparse.ArgumentParser) -> None:
    """Flags of how a call is cut into caller turns (every command that listens to calls)."""
    p.add_argument("--vad-aggressiveness", type=int, default=2, choices=range(4))
    p.add_argument("--early-close-ms", type=int, default=300, metavar="MS",
                   help="close a turn the end-of-turn model calls plainly finished after this "
                        "much silence (default 300; 0: always wait the 600 ms hangover)")
    p.add_argument("--unfinished-hangover-ms", type=int, default=1000, metavar="MS",
                   help="wait this long before closing a turn the model calls plainly "
                        "unfinished (default 1000; 0: the plain 600 ms)")


def endpointing(args: argparse.Namespace):
    """The :class:`~tierline.audio.endpointer.EndpointingConfig` the endpointing flags say.

    Raises:
        UsageError: a negative duration.
    """
    from tierline.audio.endpointer import ConfirmConfig, EndpointingConfig
    from tierline.audio.vad import EndpointerConfig

    for name in ("early_close_ms", "unfinished_hangover_ms"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0 (0: off), "
                             f"not {getattr(args, name)}")
    return EndpointingConfig(
        endpointer=EndpointerConfig(aggressiveness=args.vad_aggressiveness),
        confirm=ConfirmConfig(early_close_ms=args.early_close_ms,
                              unfinished_hangover_ms=args.unfinished_hangover_ms))


def load_asr(args: argparse.Namespace, readings: bool = True):
    """Load the Whisper recogniser the ASR flags describe (a local directory, never a hub name).

    Args:
        args: Parsed ASR flags.
        readings: Add the call-centre decoder's readings to the beam (for the NLU; a caller
            that only needs transcripts saves its decode).
    """
    from tierline.dialects.asr import AsrConfig, load_whisper

    if args.threads < 1:
        raise UsageError(f"--threads must be at least 1, not {args.threads}")
    from tierline.dialects.asr import DOMAIN_PROMPT

    prompt = DOMAIN_PROMPT if args.prompt == "domain" else args.prompt
    config = AsrConfig(cpu_threads=args.threads, initial_prompt=prompt,
                       window=getattr(args, "asr_window", "dynamic"))
    wanted = readings and not getattr(args, "no_readings", False)
    asr = load_whisper(args.asr_model, config, wanted)
    if getattr(args, "no_dialect", False):
        return asr
    from tierline.dialects.call_dialect import with_dialects

    return with_dialects(asr, config)


def turn_line(turn) -> str:
    """One table row for a decided caller turn."""
    ents = " ".join(f"{k}={v}" for k, v in turn.entities.items()) or "-"
    route = turn.route.queue and f"→ {turn.route.queue}" or "continue"
    return (f"{turn.start_s:6.1f}–{turn.end_s:6.1f}s  {turn.tier.label:<10} {route:<16} "
            f"{turn.intent[0]:<17} {turn.emotion.label:<8} {ents:<24} {turn.text}")


def summary_line(name: str, result: dict[str, Any]) -> str:
    """The closing line of a call: turns, final tier and route."""
    r = result["route"]
    route = (f"transfer → {r['queue']} at turn {r['at_turn']}" if r["action"] == "transfer"
             else "continue")
    return (f"== {name}: {len(result['turns'])} turns, final tier {result['final_tier']}, "
            f"route {route} ({r['reason']})")
