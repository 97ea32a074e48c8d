"""`tierline asr-eval MANIFEST.tsv`: character error rate of the recogniser."""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from tierline.agent.clikit import UsageError, add_asr_flags, emit, load_asr


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("asr-eval", help="character error rate over a TSV manifest")
    p.add_argument("manifest", metavar="MANIFEST.tsv",
                   help="TSV with a header and columns path, transcript")
    p.add_argument("--json", action="store_true", help="JSON lines; the last has the CER")
    p.add_argument("--telephone", action="store_true",
                   help="pass audio through an 8 kHz mu-law telephone round trip first")
    p.add_argument("--limit", type=int, default=0, help="only the first N clips")
    add_asr_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tierline.audio.io import load_audio, telephone_round_trip
    from tierline.dialects.evaluation.cer import corpus_cer, read_manifest, score_clips

    rows = read_manifest(args.manifest)[: args.limit or None]
    for row in rows:
        if not row.path.is_file():
            raise UsageError(f"{args.manifest}: audio file not found: {row.path}")
    asr = load_asr(args, readings=False)  # transcripts only

    def load(path: Path):
        audio = load_audio(path)
        return telephone_round_trip(audio) if args.telephone else audio

    scores = []
    for s in score_clips(asr, rows, load):
        scores.append(s)
        line = {"path": s.path, "ref": s.reference, "hyp": s.hypothesis, "errors": s.errors,
                "chars": s.ref_chars, "seconds": round(s.seconds, 3)}
        if args.json:
            emit(sys.stdout, line)
        else:
            print(f"{s.errors:3d}/{s.ref_chars:<3d} {s.seconds:5.2f}s  "
                  f"{s.reference} | {s.hypothesis}")
    cer = corpus_cer(scores)
    summary = {"cer": round(cer, 4), "n": len(scores),
               "chars": sum(s.ref_chars for s in scores),
               "errors": sum(s.errors for s in scores),
               "telephone_8k": args.telephone, "prompt": args.prompt,
               "median_s_per_utt": round(statistics.median(s.seconds for s in scores), 3),
               "median_audio_s": round(statistics.median(s.audio_s for s in scores), 2),
               "model": str(asr.model_dir)}
    if args.json:
        emit(sys.stdout, summary)
    else:
        print(f"CER {cer:.2%} over {summary['n']} clips ({summary['chars']} chars); "
              f"median {summary['median_s_per_utt']} s per utterance")
    return 0
