"""Does the turn-length encoder window cost the NLU anything? Intents of noisy copies, both windows.

The held-out test split's utterances are spoken once by the neural Kokoro voice over the phone
line (as ``python -m tierline.nlu.training.asr_corpus --tts kokoro`` renders the committed copy)
and each rendering is decoded twice in the same run: with the 30 s window as before (``TODAY``)
and with the shipped dynamic window, both with the call-centre decoder's readings. The shipped
intent model then reads every copy from its top transcript and from its beam (as the pipeline
reads a turn); reported: macro-F1 per window, the copy's CER and how many transcripts came out
empty. About 25 minutes on the 2-core box for the 558 test utterances.

Usage: python benchmarks/bench_window_intents.py [--limit N] [--out-dir DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

from timing import median

import tierline.nlu.data as nlu_data
from tierline.audio.synthetic.kokoro import KokoroMandarin
from tierline.dialects.asr import TODAY, AsrConfig, load_whisper
from tierline.nlu.evaluation.evaluate import predict, predict_beams
from tierline.nlu.evaluation.recogniser_bound import turn_cer
from tierline.nlu.evaluation.scores import score
from tierline.nlu.models import INTENT_MODEL
from tierline.nlu.onnx_models import OnnxIntentClassifier
from tierline.nlu.training.asr_corpus import (
    Renderer,
    _beam_column,
    _clean,
    phone_line,
    select,
    utterance_hash,
)


def render_and_decode(texts: list[str], out_dir: Path) -> dict[str, list[float]]:
    """Write one copy per window (corpus format); returns each window's decode times."""
    asrs = {"fixed": load_whisper(None, TODAY), "dynamic": load_whisper(None, AsrConfig())}
    render = Renderer("kokoro", KokoroMandarin(2))
    files = {k: (out_dir / f"kokoro_{k}.tsv").open("w", encoding="utf-8") for k in asrs}
    for fh in files.values():
        fh.write("text\tasr\tbeam\n")
    ms: dict[str, list[float]] = {k: [] for k in asrs}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(texts, 1):
            h = utterance_hash(text)
            audio = render(text, Path(tmp), h)
            line = phone_line(audio, h) if audio.size else None
            for k, asr in asrs.items():
                heard = asr.transcribe(line) if line is not None else None
                if heard is not None:
                    ms[k].append(heard.compute_ms)
                files[k].write(f"{_clean(text)}\t{_clean(heard.text if heard else '')}\t"
                               f"{_beam_column(heard.alternatives if heard else ())}\n")
                files[k].flush()
            if i % 25 == 0 or i == len(texts):
                print(f"{i}/{len(texts)}  {(time.perf_counter() - t0) / i:.2f} s/utterance",
                      file=sys.stderr, flush=True)
    for fh in files.values():
        fh.close()
    return ms


def scores(out_dir: Path, window: str) -> dict:
    """The shipped intent model on one window's copy (clean labels)."""
    path = out_dir / f"kokoro_{window}.tsv"
    shipped = nlu_data.copy_file
    nlu_data.copy_file = lambda copy, split=None: path
    try:
        pairs = nlu_data.load_noisy_pairs("test", "kokoro")
    finally:
        nlu_data.copy_file = shipped
    model = OnnxIntentClassifier(INTENT_MODEL)
    noisy = [n for _, n in pairs]
    truth = [n.label for n in noisy]
    errors = chars = empty = 0
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            e, n = turn_cer(row["text"], row["asr"])
            errors, chars, empty = errors + e, chars + n, empty + (not row["asr"].strip())
    top = score(truth, predict(model, [n.text for n in noisy]))
    beam = score(truth, predict_beams(model, noisy))
    return {"n": len(noisy), "macro_f1_top": round(top.macro_f1, 4),
            "macro_f1_beam": round(beam.macro_f1, 4),
            "cer": round(errors / max(1, chars), 4), "empty": empty}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="first N test utterances")
    parser.add_argument("--out-dir", default="out/bench_window_intents",
                        help="where the two copies are written")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = select(("test",), 100)
    texts = texts[: args.limit] if args.limit else texts
    ms = render_and_decode(texts, out_dir)
    result = {w: {**scores(out_dir, w), "decode_median_ms": round(median(ms[w]), 1)}
              for w in ("fixed", "dynamic")}
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
