"""``tierline train asr-window``: teach Whisper base's encoder to hear a turn on a short window.

After futo-org/whisper-acft: a frozen teacher — Whisper base on its 30 s window, as trained —
reads each clip and writes its own transcript; the student — the same model on a window cut to
the clip plus a short silence — is trained so that, fed the teacher's tokens, its decoder's
hidden states match the teacher's at every layer (mean squared error). Only the encoder
learns (low-rank updates of its attention and feed-forward matrices,
:class:`tierline.dialects.training.torch_encoder.WhisperEncoder`); the decoder is Whisper base's,
so the call-centre decoder (base decoder + its own adapter) reads the student's encoder output
as it read the teacher's, and its adapter needs no retraining.

1. **Audio** (:mod:`tierline.dialects.training.window_data`): Kokoro renderings of the AISHELL-1
   transcripts whose recordings are not the CER test set, and pieces of the real recordings of
   ``dialects_more/`` and the untranscribed Mandarin clips, each through a μ-law, A-law or
   16 kHz line. No transcript is needed: the targets are the teacher's.
2. **Teacher** (cached in ``--work``): the int8 CTranslate2 model on the 30 s window decodes
   the clip (greedy); the torch decoder, teacher-forced on those tokens over that encoder
   output, gives the target hidden states. Clips the teacher hears as silence or a loop are
   left out.
3. **Student**: the log-mel of the clip followed by a silence of ``--margin`` seconds
   (uniformly drawn per step, so every short margin is seen), the LoRA encoder, the frozen
   decoder on the same tokens; AdamW with a one-cycle learning rate, for ``--epochs`` or
   until ``--minutes`` run out. One recording in ten (by hash) is held out for the dev loss.
4. **Export**: the factors go to ``--out`` (default ``dialects/window_adapter.npz``; the
   decoder adapter's file layout, :mod:`tierline.dialects.decoder_lora`, so
   :func:`tierline.dialects.models.assemble_whisper_callcentre` with ``adapter_path`` merges
   them into a model directory). Not shipped: measured against the 30 s window with
   ``benchmarks/bench_asr.py --config "acft=dynamic@DIR"`` it lost 0.92 CER points on the
   dialect clips over the telephone line (docs/results.md), so nothing loads it by default.

Sized for a 2-core CPU: about 2 s per clip-step with 2 threads on a quiet box.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tierline.dialects.training.window_data import (
    Source,
    kokoro_sources,
    load_source,
    real_sources,
    render_kokoro,
)

WINDOW_ADAPTER = Path(__file__).resolve().parents[1] / "window_adapter.npz"
"""Where the trained factors are written (beside the call-centre adapter)."""


@dataclass(frozen=True)
class WindowSettings:
    """What ``tierline train asr-window`` trains with (stored in the adapter's meta record)."""

    kokoro: int = 400
    real_seeds: int = 3
    rank: int = 16
    alpha: float = 32.0
    learning_rate: float = 3e-4
    epochs: int = 2
    accumulate: int = 4
    margin_min_s: float = 0.25
    margin_max_s: float = 1.0
    seed: int = 11
    minutes: float = 100.0


def _held_out(source: Source) -> bool:
    """One recording (or text) in ten is held out for the dev loss."""
    key = source.text  # the text spoken, or the recording's path: all its pieces together
    return int(hashlib.sha1(("dev|" + key).encode()).hexdigest()[:6], 16) % 10 == 0


def teacher_targets(sources: Sequence[Source], audio_dir: Path, out_dir: Path, model_dir: Path,
                    variables: dict, threads: int, log: Callable[[str], None]) -> None:
    """Cache each clip's teacher tokens and decoder hidden states (``NAME.npz``).

    A clip the teacher hears as silence (no-speech probability over 0.6), as a loop
    (compression ratio over 2.4) or as nothing gets an empty record and is not trained on.
    """
    todo = [s for s in sources if not (out_dir / f"{s.name}.npz").is_file()]
    if not todo:
        return
    import torch

    from tierline.dialects.asr import LOOP_COMPRESSION_RATIO, NO_SPEECH_THRESHOLD
    from tierline.dialects.training.torch_decoder import WhisperDecoder
    from tierline.dialects.whisper_ct2 import MAX_FRAMES, WhisperRuntime, compression_ratio

    out_dir.mkdir(parents=True, exist_ok=True)
    runtime = WhisperRuntime(model_dir, threads=threads)
    decoder = WhisperDecoder(variables, rank=0)
    t0 = time.perf_counter()
    for k, source in enumerate(todo, 1):
        audio = load_source(source, audio_dir)
        record: dict[str, np.ndarray] = {"tokens": np.zeros(0, np.int32)}
        if audio.size >= 8000:
            mel = runtime.mel(audio)
            encoded = runtime.encode(mel, MAX_FRAMES)
            prompt = runtime.prompt("zh", None)
            beam = runtime.generate(encoded, prompt, beam_size=1, hypotheses=1,
                                    max_new=224, repetition_penalty=1.0)
            best = beam.sequences[0] if beam.sequences else ()
            text = runtime.text(best).strip()
            if (text and beam.no_speech_prob <= NO_SPEECH_THRESHOLD and not beam.capped
                    and compression_ratio(text) <= LOOP_COMPRESSION_RATIO):
                tokens = [*prompt, *best, runtime.tokenizer.eot]
                with torch.no_grad():
                    states = decoder.hidden_states(
                        torch.tensor([tokens[:-1]]), torch.tensor(np.array(encoded)))
                record = {"tokens": np.array(tokens, np.int32),
                          "states": torch.stack(states)[:, 0].numpy().astype(np.float16),
                          "samples": np.array(len(audio), np.int64)}
        part = out_dir / f"{source.name}.tmp.npz"
        with part.open("wb") as fh:
            np.savez(fh, **record)
        part.replace(out_dir / f"{source.name}.npz")
        if k % 25 == 0 or k == len(todo):
            log(f"teacher {k}/{len(todo)} ({(time.perf_counter() - t0) / k:.2f} s/clip)")


def _examples(sources: Sequence[Source], teacher_dir: Path) -> list[tuple[Source, dict]]:
    out = []
    for source in sources:
        with np.load(teacher_dir / f"{source.name}.npz") as data:
            record = {key: data[key] for key in data.files}
        if len(record["tokens"]):
            out.append((source, record))
    return out


def student_mel(features, audio: np.ndarray, margin_s: float) -> np.ndarray:
    """The student's window: log-mel of the audio and ``margin_s`` of silence, even frames
    (as :class:`tierline.dialects.asr.WhisperASR` builds a dynamic window)."""
    padded = np.concatenate([audio, np.zeros(int(margin_s * 16_000), np.float32)])
    mel = features(padded)
    mel = mel[:, : mel.shape[1] - 1]
    frames = min(3000, mel.shape[1] - mel.shape[1] % 2)
    return mel[:, :frames]


def train_window(train: list, dev: list, audio_dir: Path, variables: dict,
                 settings: WindowSettings, log: Callable[[str], None]):
    """Fit the encoder's LoRA factors; returns (encoder, dev loss before, dev loss after)."""
    import torch
    import torch.nn.functional as F
    from faster_whisper.feature_extractor import FeatureExtractor

    from tierline.dialects.training.torch_decoder import WhisperDecoder
    from tierline.dialects.training.torch_encoder import WhisperEncoder

    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    features = FeatureExtractor(feature_size=80)
    encoder = WhisperEncoder(variables, settings.rank, settings.alpha)
    decoder = WhisperDecoder(variables, rank=0)
    decoder.encoder_grad = True
    for p in decoder.parameters():
        p.requires_grad_(False)
    params = [p for p in encoder.parameters() if p.requires_grad]
    steps = max(1, settings.epochs * len(train) // settings.accumulate)
    opt = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.learning_rate,
                                                total_steps=steps, pct_start=0.1)
    audio_cache: dict[str, np.ndarray] = {}

    def loss_of(source: Source, record: dict, margin_s: float) -> torch.Tensor:
        if source.name not in audio_cache:
            audio_cache[source.name] = load_source(source, audio_dir)
        mel = student_mel(features, audio_cache[source.name], margin_s)
        encoded = encoder(torch.tensor(mel[None]))
        tokens = torch.tensor(record["tokens"][None, :-1].astype(np.int64))
        states = torch.stack(decoder.hidden_states(tokens, encoded))[:, 0]
        return F.mse_loss(states, torch.tensor(record["states"].astype(np.float32)))

    def dev_loss() -> float:
        with torch.no_grad():  # the dev clips at the middle of the margins trained on
            margin = (settings.margin_min_s + settings.margin_max_s) / 2
            return float(np.mean([float(loss_of(s, r, margin)) for s, r in dev])) if dev else 0.0

    before = dev_loss()
    log(f"dev loss before {before:.5f}; {len(train)} clips, {steps} optimiser steps")
    t0, step, stop = time.perf_counter(), 0, False
    deadline = t0 + settings.minutes * 60
    for epoch in range(settings.epochs):
        order = list(range(len(train)))
        rng.shuffle(order)
        for i in range(0, len(order) - settings.accumulate + 1, settings.accumulate):
            opt.zero_grad()
            total = 0.0
            for j in order[i: i + settings.accumulate]:
                margin = rng.uniform(settings.margin_min_s, settings.margin_max_s)
                loss = loss_of(*train[j], margin) / settings.accumulate
                loss.backward()
                total += float(loss.detach())
            opt.step()
            if step + 1 < steps:
                sched.step()
            step += 1
            if step % 20 == 0:
                log(f"epoch {epoch + 1} step {step}/{steps} loss {total:.5f} "
                    f"({(time.perf_counter() - t0) / step:.1f} s/step)")
            if time.perf_counter() > deadline:
                log(f"time budget of {settings.minutes:g} min reached at step {step}")
                stop = True
                break
        log(f"epoch {epoch + 1} dev loss {dev_loss():.5f}")
        if stop:
            break
    return encoder, before, dev_loss()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``tierline train asr-window``."""
    d = WindowSettings()
    parser.add_argument("--out", default=str(WINDOW_ADAPTER), metavar="FILE",
                        help="adapter file to write (default: the shipped one)")
    parser.add_argument("--work", metavar="DIR",
                        help="audio and teacher cache (default $TIERLINE_HOME/asr_window)")
    parser.add_argument("--data", metavar="DIR",
                        help="shared public data (default $TIERLINE_DATA or ../shared/data)")
    parser.add_argument("--kokoro", type=int, default=d.kokoro,
                        help="AISHELL transcripts to render with Kokoro (fewer if not rendered "
                             "yet and --no-render)")
    parser.add_argument("--no-render", action="store_true",
                        help="train on the renderings already cached, render nothing")
    parser.add_argument("--real-seeds", type=int, default=d.real_seeds,
                        help="cuts of the real recordings (each seed cuts them elsewhere)")
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--minutes", type=float, default=d.minutes,
                        help="stop training after this long (default %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=d.learning_rate)
    parser.add_argument("--rank", type=int, default=d.rank)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")


def run(args: argparse.Namespace) -> int:
    """Render, ask the teacher, train, write the adapter. Returns 0."""
    from tierline.dialects.errors import ModelError
    from tierline.nlu.data import shared_data_dir
    from tierline.nlu.training.train import require_train_extra

    torch, _ = require_train_extra()
    from tierline.dialects.ct2_weights import read_ct2
    from tierline.dialects.decoder_lora import DecoderAdapter
    from tierline.dialects.models import WHISPER_BASE_SHA256, tierline_home, whisper_base_dir

    if min(args.threads, args.epochs, args.rank) < 1 or args.kokoro < 0 or args.minutes <= 0:
        raise ModelError("--threads, --epochs and --rank must be at least 1, --kokoro at "
                         "least 0 and --minutes positive")
    torch.set_num_threads(args.threads)
    settings = WindowSettings(kokoro=args.kokoro, real_seeds=args.real_seeds, rank=args.rank,
                              learning_rate=args.learning_rate, epochs=args.epochs,
                              seed=args.seed, minutes=args.minutes)
    work = Path(args.work) if args.work else tierline_home() / "asr_window"
    base = whisper_base_dir()
    if not (base / ".verified").is_file():
        raise ModelError(f"Whisper base is not assembled in {base}; run `tierline models assemble`")
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    data_dir = shared_data_dir(args.data)
    audio_dir = work / "audio"
    kokoro = kokoro_sources(data_dir, settings.kokoro)
    if args.no_render:
        kokoro = [s for s in kokoro if (audio_dir / f"{s.name}.npy").is_file()]
    else:
        render_kokoro(kokoro, audio_dir, args.threads, log)
    real = [s for seed in range(settings.real_seeds) for s in real_sources(data_dir, 7 + seed)]
    sources = kokoro + real
    log(f"{len(kokoro)} Kokoro clips, {len(real)} real pieces; cache {work}")
    weights = read_ct2(base / "model.bin")
    teacher_targets(sources, audio_dir, work / "teacher", base, weights.variables,
                    args.threads, log)
    train = _examples([s for s in sources if not _held_out(s)], work / "teacher")
    dev = _examples([s for s in sources if _held_out(s)], work / "teacher")
    encoder, before, after = train_window(train, dev, audio_dir, weights.variables, settings,
                                          log)
    meta = {"base_sha256": WHISPER_BASE_SHA256, "kind": "encoder window adapter",
            "dev_loss_before": round(before, 5), "dev_loss_after": round(after, 5),
            "train_clips": len(train), "dev_clips": len(dev), **asdict(settings)}
    out = Path(args.out)
    DecoderAdapter(encoder.factors(), meta).save(out)
    log(f"dev loss {before:.5f} → {after:.5f}; wrote {out} ({out.stat().st_size:,} bytes)")
    (work / "last_run.json").write_text(json.dumps(meta, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m tierline.dialects.training.train_window``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except Exception as exc:  # one clear line, as the CLI does
        from tierline.core.errors import TierlineError

        if isinstance(exc, TierlineError):
            print(f"train asr-window: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
