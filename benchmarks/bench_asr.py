"""Whisper settings side by side on real speech, in one run: CER, per-turn time, languages.

Every clip is decoded by every configuration in turn (clip by clip, so a busy machine slows
them alike), at 16 kHz as recorded and after the 8 kHz μ-law telephone round trip. The sets:
the 60 AISHELL-1 clips (human transcripts) and the other 45 clips of
../shared/data/asr_manifest.tsv (Sichuanese, Cantonese, Mandarin, English; automatic
transcripts). A configuration is a preset (``today``: the 30 s window as before;
``dynamic``: the default) optionally followed by AsrConfig fields, e.g.
``--config today --config dynamic --config "nofb=dynamic:fixed_fallback=False"``; a model
directory other than Whisper base follows the preset: ``"tuned=dynamic@DIR:margin_s=0.5"``.

Usage: python benchmarks/bench_asr.py [--config SPEC]... [--sets aishell,dialects]
           [--rates 16k,8k] [--limit N] [--readings] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from timing import percentile

from tierline.audio.io import load_audio, telephone_round_trip
from tierline.dialects.asr import TODAY, AsrConfig, WhisperASR
from tierline.dialects.inference_queue import InferenceQueue
from tierline.dialects.models import resolve_asr_model, resolve_readings_model
from tierline.dialects.normalize import edit_distance, normalize_text

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PRESETS = {"today": TODAY, "dynamic": AsrConfig()}


def parse_config(spec: str) -> tuple[str, AsrConfig, Path | None]:
    """``[NAME=]PRESET[@MODEL_DIR][:field=value,...]`` → (name, config, model dir or None)."""
    head, _, fields = spec.partition(":")
    name, _, preset = head.rpartition("=")
    preset, _, model = preset.partition("@")
    if preset not in PRESETS:
        raise SystemExit(f"bench_asr: unknown preset {preset!r} (have {', '.join(PRESETS)})")
    config = PRESETS[preset]
    types = {f.name: f.type for f in dataclasses.fields(AsrConfig)}
    changes = {}
    for item in filter(None, fields.split(",")):
        key, _, value = item.partition("=")
        if key not in types:
            raise SystemExit(f"bench_asr: AsrConfig has no field {key!r}")
        kind = types[key]
        if value == "None":
            changes[key] = None
        elif "bool" in kind:
            changes[key] = value == "True"
        elif "tuple" in kind:
            changes[key] = tuple(filter(None, value.split("+")))
        elif "float" in kind:
            changes[key] = float(value)
        elif "int" in kind:
            changes[key] = int(value)
        else:
            changes[key] = value
    return name or spec, dataclasses.replace(config, **changes), Path(model) if model else None


def clip_sets(names: list[str], limit: int) -> dict[str, list[tuple[Path, str, str]]]:
    """Set name → (audio path, reference, label) rows."""
    sets: dict[str, list[tuple[Path, str, str]]] = {}
    if "aishell" in names:
        root = DATA / "aishell1_sample"
        with (root / "selected_60.tsv").open(encoding="utf-8") as f:
            sets["aishell"] = [(root / "wav" / f"{r['utt_id']}.wav", r["transcript"], "zh")
                               for r in csv.DictReader(f, delimiter="\t")]
    if "dialects" in names:
        with (DATA / "asr_manifest.tsv").open(encoding="utf-8") as f:
            sets["dialects"] = [(DATA / r["path"], r["transcript"], r["language_dialect"])
                                for r in csv.DictReader(f, delimiter="\t")
                                if not r["path"].startswith("aishell1_sample/")]
    return {k: v[: limit or None] for k, v in sets.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", help="configuration (repeatable)")
    parser.add_argument("--sets", default="aishell,dialects")
    parser.add_argument("--rates", default="16k,8k", help="16k (as recorded), 8k (telephone)")
    parser.add_argument("--limit", type=int, default=0, help="first N clips of each set")
    parser.add_argument("--readings", action="store_true",
                        help="also run the call-centre decoder (as the session does)")
    parser.add_argument("--json", help="write the summary and every clip's result here")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"bench_asr: {DATA} not found", file=sys.stderr)
        return 2
    configs = [parse_config(s) for s in (args.config or ["today", "dynamic"])]
    reader = resolve_readings_model(None) if args.readings else None
    model = resolve_asr_model(None)
    asrs = {name: WhisperASR(own or model, cfg, reader, queue=InferenceQueue(cfg.parallel))
            for name, cfg, own in configs}
    rates = args.rates.split(",")
    sets = clip_sets(args.sets.split(","), args.limit)
    warm = np.zeros(16000, dtype=np.float32)
    for asr in asrs.values():
        asr.transcribe(warm)
    rows: list[dict] = []
    t0 = time.perf_counter()
    for set_name, clips in sets.items():
        for path, reference, label in clips:
            audio16 = load_audio(path)
            for rate in rates:
                audio = telephone_round_trip(audio16) if rate == "8k" else audio16
                for name, asr in asrs.items():
                    before = asr.fallbacks
                    t = asr.transcribe(audio)
                    ref, hyp = normalize_text(reference), normalize_text(t.text)
                    rows.append({
                        "config": name, "set": set_name, "rate": rate, "path": str(path),
                        "label": label, "audio_s": round(len(audio) / 16000, 3),
                        "ref": ref, "hyp": hyp, "text": t.text,
                        "errors": edit_distance(ref, hyp), "chars": len(ref),
                        "ms": round(t.compute_ms, 1), "window_s": t.window_s,
                        "language": t.language, "language_prob": t.language_prob,
                        "languages": t.languages, "fallback": asr.fallbacks > before,
                        "no_speech_prob": round(t.no_speech_prob, 4),
                        "fffd": "\ufffd" in t.text or any("\ufffd" in h.text
                                                          for h in t.alternatives)})
    summary = []
    for set_name in sets:
        for rate in rates:
            for name, _, _ in configs:
                part = [r for r in rows
                        if (r["set"], r["rate"], r["config"]) == (set_name, rate, name)]
                ms = [r["ms"] for r in part]
                errors, chars = sum(r["errors"] for r in part), sum(r["chars"] for r in part)
                summary.append({
                    "set": set_name, "rate": rate, "config": name, "n": len(part),
                    "cer": round(errors / chars, 4) if chars else None,
                    "errors": errors, "chars": chars,
                    "ms_median": round(statistics.median(ms), 1),
                    "ms_p95": round(percentile(ms, 95), 1),
                    "fallbacks": sum(r["fallback"] for r in part),
                    "not_zh": sum(r["language"] != "zh" for r in part),
                    "fffd": sum(r["fffd"] for r in part)})
    print(f"{len(rows)} decodes in {time.perf_counter() - t0:.0f} s")
    print(f"{'set':<9} {'rate':<4} {'config':<22} {'CER':>7} {'errors':>11} "
          f"{'median ms':>9} {'p95 ms':>7} {'fallb':>5} {'not zh':>6}")
    for s in summary:
        print(f"{s['set']:<9} {s['rate']:<4} {s['config']:<22} {s['cer']:>7.2%} "
              f"{s['errors']:>5}/{s['chars']:<5} {s['ms_median']:>9.0f} {s['ms_p95']:>7.0f} "
              f"{s['fallbacks']:>5} {s['not_zh']:>6}")
    if args.json:
        out = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
               "configs": {n: {**dataclasses.asdict(c), "model": str(m or model)}
                           for n, c, m in configs},
               "summary": summary, "clips": rows}
        Path(args.json).write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
