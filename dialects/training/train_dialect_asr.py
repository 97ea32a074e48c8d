"""``tierline train asr --dialect FAMILY DATA_DIR``: a dialect's decoder adapter from a site's
recordings, measured on speakers it never heard.

1. **Recordings**: the folder's audio and ``transcripts.tsv``, checked
   (:mod:`dialect_folder`: bad rows are skipped and counted).
2. **Telephone-band copies**: each training recording under each ``--recipes`` recipe
   (μ-law, A-law, noise + A-law, speed ±10 % + μ-law by default; :mod:`line_augment`), through
   Whisper base's int8 encoder in its 30 s window as the recogniser runs it; cached in
   ``--work`` with the target tokens (language token ``zh``: Whisper base has no ``yue``).
3. **Held-out CER**: with ``--folds K`` (default 3) each speaker-disjoint fold gets an adapter
   trained on the other folds' speakers and is decoded at the telephone band (8 kHz μ-law
   round trip) by Whisper base and by the tuned model, both with the family's prompt and
   normaliser from the registry; ``--folds 1`` holds out ``--held-out`` of the speakers once.
4. **The adapter**: trained on every speaker (:mod:`lora_loop`: progress, checkpoints every
   few steps, resume), written to ``--out`` (default ``$TIERLINE_HOME/dialects/FAMILY/
   adapter.npz``) and merged into a staged model in ``--work``.
5. **Mandarin check** (:func:`mandarin_check`): the AISHELL clips of the shared data
   (``--mandarin N``; human transcripts) at the telephone band, before and after in one run:
   Whisper base alone; the dialect pipeline with the new model installed (the identifier
   decides turn by turn); and every clip through the new model (a Mandarin caller always
   mistaken for FAMILY).
6. **Install**: the staged model moves to ``$TIERLINE_HOME/models/whisper-base-FAMILY``,
   where :func:`tierline.dialects.registry.resolve_dialect_model` finds it, only when it read
   the held-out speakers better than Whisper base and Mandarin at most ``--mandarin-margin``
   worse (:func:`install_refusal`; ``--install-anyway`` overrides).

The report goes to ``WORK/report.json`` and stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from tierline.dialects.training.dialect_folder import Recording

DEFAULT_RECIPES = ("ulaw", "alaw", "noise", "speed")


def _digest(rec: Recording) -> str:
    return hashlib.blake2b(rec.audio.tobytes() + rec.transcript.encode("utf-8"),
                           digest_size=10).hexdigest()


class Encoded:
    """Cached encoder outputs and target tokens of training recordings."""

    def __init__(self, work: Path, model_dir: Path, threads: int,
                 log: Callable[[str], None]) -> None:
        self.dir = work / "encoded"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.model_dir = model_dir
        self.threads = threads
        self.log = log
        self._model = None
        self._tokenizer = None

    def _load(self):
        if self._model is None:
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import Tokenizer

            self._model = WhisperModel(str(self.model_dir), device="cpu", compute_type="int8",
                                       cpu_threads=self.threads)
            self._tokenizer = Tokenizer(self._model.hf_tokenizer, True, task="transcribe",
                                        language="zh")
        return self._model, self._tokenizer

    def items(self, recordings: Sequence[Recording], recipes: Sequence[str]
              ) -> list[tuple[np.ndarray, list[int]]]:
        """(encoder output float16 (1500, width), tokens) per recording and recipe."""
        from faster_whisper.audio import pad_or_trim

        from tierline.dialects.training.line_augment import augment
        from tierline.dialects.training.train_adapter import target_tokens

        out = []
        todo = [(r, rec) for rec in recordings for r in recipes
                if not (self.dir / f"{_digest(rec)}-{r}.json").is_file()]
        t0 = time.perf_counter()
        for k, (recipe, rec) in enumerate(todo, 1):
            model, tokenizer = self._load()
            key = f"{_digest(rec)}-{recipe}"
            audio = augment(rec.audio, recipe, int(key[:8], 16))[: 30 * 16_000]
            features = pad_or_trim(model.feature_extractor(audio)[:, :3000])
            np.save(self.dir / f"{key}.npy",
                    np.array(model.encode(features))[0].astype(np.float16))
            tokens = target_tokens(tokenizer, rec.transcript, audio)
            (self.dir / f"{key}.json").write_text(json.dumps(tokens))
            if k % 10 == 0 or k == len(todo):
                self.log(f"encoded {k}/{len(todo)} telephone-band copies "
                         f"({(time.perf_counter() - t0) / k:.1f} s each)")
        for rec in recordings:
            for recipe in recipes:
                key = f"{_digest(rec)}-{recipe}"
                out.append((np.load(self.dir / f"{key}.npy"),
                            json.loads((self.dir / f"{key}.json").read_text())))
        return out


def merged_model(adapter_path: Path, target: Path) -> Path:
    """Whisper base with the adapter merged, in ``target`` (rebuilt when the adapter changed)."""
    from tierline.dialects.models import assemble_whisper_callcentre

    return assemble_whisper_callcentre(target=target, adapter_path=adapter_path)


def save_adapter(decoder, path: Path, meta: dict) -> Path:
    """Write the decoder's factors as a :class:`DecoderAdapter` file."""
    from tierline.dialects.decoder_lora import DecoderAdapter

    path.parent.mkdir(parents=True, exist_ok=True)
    DecoderAdapter(decoder.factors(), meta).save(path)
    return path


class Decoder:
    """A recogniser with the family's prompt and normaliser, scoring at the telephone band,
    with a cache of hypotheses (keyed by model, prompt and audio)."""

    def __init__(self, model_dir: Path, family: str, cache: dict, tag: str) -> None:
        from tierline.dialects.asr import AsrConfig, WhisperASR
        from tierline.dialects.registry import resolve_dialect_model

        entry = resolve_dialect_model(family)
        self.config = entry.asr_config(AsrConfig(alternatives=1))
        self.asr = WhisperASR(model_dir, self.config)
        self.cache = cache
        self.tag = f"{tag}|{self.config.initial_prompt}|{self.config.t2s}"

    def __call__(self, rec: Recording) -> str:
        return self.hypothesis(rec.audio)

    def hypothesis(self, audio: np.ndarray) -> str:
        from tierline.audio.io import telephone_round_trip

        key = self.tag + "|" + hashlib.blake2b(audio.tobytes(), digest_size=10).hexdigest()
        if key not in self.cache:
            self.cache[key] = self.asr.transcribe(telephone_round_trip(audio)).text
        return self.cache[key]


def cer_rows(hear: Callable[[Recording], str], recordings: Sequence[Recording]) -> list[dict]:
    """Per recording: normalised reference, hypothesis (``hear(recording)``) and edit count."""
    from tierline.dialects.normalize import edit_distance, normalize_text

    rows = []
    for rec in recordings:
        ref, hyp = normalize_text(rec.transcript), normalize_text(hear(rec))
        rows.append({"path": str(rec.path), "speaker": rec.speaker, "reference": ref,
                     "hypothesis": hyp, "errors": edit_distance(ref, hyp), "chars": len(ref)})
    return rows


def with_fallback(tuned: Decoder, base: Decoder) -> Callable[[Recording], str]:
    """The tuned decoder's reading, Whisper base's where the tuned one heard nothing (as
    :class:`tierline.dialects.call_dialect.DialectAwareASR` runs it)."""
    return lambda rec: tuned.hypothesis(rec.audio) or base.hypothesis(rec.audio)


def corpus_cer(rows: Sequence[dict]) -> float:
    chars = sum(r["chars"] for r in rows)
    return sum(r["errors"] for r in rows) / chars if chars else 0.0


def mandarin_recordings(data_dir: Path | None, n: int) -> list[Recording]:
    """The first ``n`` AISHELL clips of the shared data, taking the speakers in turn."""
    from tierline.audio.io import load_audio
    from tierline.dialects.training.dialect_corpus import load_corpus
    from tierline.nlu.data import shared_data_dir

    clips = [c for c in load_corpus(shared_data_dir(data_dir))
             if c.human and c.speaker.startswith("aishell_") and c.transcript]
    by_speaker: dict[str, list] = {}
    for clip in clips:
        by_speaker.setdefault(clip.speaker, []).append(clip)
    mixed = [c for group in itertools.zip_longest(*by_speaker.values()) for c in group
             if c is not None][:n]
    return [Recording(c.path, c.transcript, c.speaker, load_audio(c.path)) for c in mixed]


def run_dialect(args: argparse.Namespace) -> int:
    """The whole ``--dialect`` run (module docstring). Returns 0."""
    from tierline.audio.io import load_audio
    from tierline.dialects.ct2_weights import read_ct2
    from tierline.dialects.errors import ModelError
    from tierline.dialects.evaluation.dialect_eval import speaker_folds
    from tierline.dialects.families import check_family
    from tierline.dialects.models import WHISPER_BASE_SHA256, tierline_home, whisper_base_dir
    from tierline.dialects.registry import dialect_adapter_path, dialect_model_dir
    from tierline.dialects.training.dialect_folder import (
        DatasetError,
        read_folder,
        split_speakers,
    )
    from tierline.dialects.training.line_augment import RECIPES
    from tierline.dialects.training.lora_loop import LoopSettings, device, train_lora
    from tierline.nlu.training.train_extra import torch

    try:
        family = check_family(args.dialect)
    except ValueError as exc:
        raise DatasetError(str(exc)) from None
    recipes = tuple(r for r in args.recipes.split(",") if r)
    if not recipes or any(r not in RECIPES for r in recipes):
        raise DatasetError(f"--recipes must name some of {', '.join(RECIPES)}")
    if args.data_dir is None:
        raise DatasetError("--dialect needs DATA_DIR (audio + transcripts.tsv)")
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    recordings, folder = read_folder(Path(args.data_dir), load_audio)
    for line in folder.lines():
        log(line)
    if not recordings:
        raise DatasetError(f"{args.data_dir}: no usable recording")
    speakers = [r.speaker for r in recordings]
    if args.folds >= 2:
        splits = speaker_folds([family] * len(recordings), speakers, args.folds, args.seed)
        folds = [([recordings[i] for i in tr], [recordings[i] for i in te])
                 for tr, te in splits]
    else:
        folds = [split_speakers(recordings, args.held_out, args.seed)]
    base = whisper_base_dir()
    if not (base / ".verified").is_file():
        raise ModelError(f"Whisper base is not assembled in {base}; run `tierline models "
                         "assemble`")
    torch.set_num_threads(args.threads)
    work = Path(args.work) if args.work else tierline_home() / "dialects" / family / "work"
    work.mkdir(parents=True, exist_ok=True)
    settings = LoopSettings(epochs=args.epochs, seed=args.seed,
                            cross_attention=not args.text_side)
    variables = read_ct2(base / "model.bin").variables
    encoded = Encoded(work, base, args.threads, log)
    cache_path = work / "hypotheses.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    log(f"{family}: {len(recordings)} recordings, {len(set(speakers))} speakers, "
        f"{sum(r.seconds for r in recordings) / 60:.1f} min; {len(folds)} held-out "
        f"split(s); recipes {', '.join(recipes)}; device {device().type}")
    base_decoder = Decoder(base, family, cache, "base")
    per_fold = []
    for k, (train, test) in enumerate(folds, 1):
        log(f"fold {k}/{len(folds)}: {len({r.speaker for r in train})} training speakers, "
            f"{len({r.speaker for r in test})} held out ({len(test)} recordings)")
        decoder = train_lora(encoded.items(train, recipes), variables, settings,
                             work / f"fold{k}.pt", log)
        adapter = save_adapter(decoder, work / f"fold{k}_adapter.npz",
                               {"base_sha256": WHISPER_BASE_SHA256, "dialect": family})
        model_dir = merged_model(adapter, work / "fold_model")
        tuned = Decoder(model_dir, family, cache, f"fold{k}:{_file_digest(adapter)}")
        rows_base = cer_rows(base_decoder, test)
        rows_raw = cer_rows(tuned, test)
        rows_tuned = cer_rows(with_fallback(tuned, base_decoder), test)
        cache_path.write_text(json.dumps(cache, ensure_ascii=False))
        per_fold.append({"fold": k, "held_out_speakers": sorted({r.speaker for r in test}),
                         "base": rows_base, "tuned": rows_tuned, "tuned_raw": rows_raw})
        log(f"fold {k}: CER base {corpus_cer(rows_base):.1%} → tuned "
            f"{corpus_cer(rows_tuned):.1%} ({corpus_cer(rows_raw):.1%} without falling "
            "back to base on empty readings)")
    all_base = [row for f in per_fold for row in f["base"]]
    all_tuned = [row for f in per_fold for row in f["tuned"]]
    all_raw = [row for f in per_fold for row in f["tuned_raw"]]
    log("training the adapter on every speaker")
    decoder = train_lora(encoded.items(recordings, recipes), variables, settings,
                         work / "final.pt", log)
    out = Path(args.out) if args.out else dialect_adapter_path(family)
    meta = {"base_sha256": WHISPER_BASE_SHA256, "dialect": family, "recipes": list(recipes),
            "recordings": len(recordings), "speakers": len(set(speakers)),
            "held_out_cer_base": round(corpus_cer(all_base), 4),
            "held_out_cer_tuned": round(corpus_cer(all_tuned), 4), **asdict(settings)}
    save_adapter(decoder, out, meta)
    staged = merged_model(out, work / "final_model")
    mandarin: dict = {}
    if args.mandarin > 0:
        mandarin = mandarin_check(family, staged, base, args, cache, log)
        cache_path.write_text(json.dumps(cache, ensure_ascii=False))
    held = {"base": round(corpus_cer(all_base), 4), "tuned": round(corpus_cer(all_tuned), 4),
            "tuned_raw": round(corpus_cer(all_raw), 4),
            "chars": sum(r["chars"] for r in all_base)}
    refusal = install_refusal(held, mandarin, args.mandarin_margin)
    target = dialect_model_dir(family)
    if refusal and not args.install_anyway:
        log(f"not installed in {target}: {refusal} (--install-anyway installs it)")
        installed = None
    else:
        installed = install(staged, target)
        log(f"installed {installed}: the registry decodes {family} callers with it")
    report = {"dialect": family, "folder": str(args.data_dir),
              "skipped": dict(folder.skipped), "speakers_from_files": folder.speakers_from_files,
              "recordings": len(recordings), "speakers": len(set(speakers)),
              "held_out_cer": held, "mandarin_check": mandarin, "settings": asdict(settings),
              "recipes": list(recipes), "folds": per_fold, "adapter": str(out),
              "installed": str(installed) if installed else None, "not_installed": refusal}
    (work / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    log(f"{family} held-out CER (phone band, {held['chars']} chars): base {held['base']:.1%} "
        f"→ tuned {held['tuned']:.1%}; wrote {out}; report {work / 'report.json'}")
    return 0


def mandarin_check(family: str, staged: Path, base: Path, args: argparse.Namespace,
                   cache: dict, log: Callable[[str], None]) -> dict:
    """Mandarin CER at the telephone band, in one run: Whisper base alone (before), the
    dialect pipeline with the staged model installed (after: each AISHELL speaker's clips are
    one call, the shipped identifier names the dialect turn by turn and the registry picks
    the recogniser), and every clip through the staged model (the worst case: a Mandarin
    caller always taken for ``family``)."""
    import tempfile

    from tierline.audio.io import telephone_round_trip
    from tierline.dialects.asr import AsrConfig
    from tierline.dialects.call_dialect import DialectRecognisers
    from tierline.dialects.dialect_id import DialectIdentifier
    from tierline.dialects.encoder_states import WhisperEncoder
    from tierline.dialects.registry import dialect_model_dir

    clips = mandarin_recordings(args.data, args.mandarin)
    plain = Decoder(base, "mandarin", cache, "base")
    worst = Decoder(staged, "mandarin", cache, f"staged:{_file_digest(staged / 'model.bin')}")
    rows_b, rows_w = cer_rows(plain, clips), cer_rows(worst, clips)
    identifier = DialectIdentifier()
    config = AsrConfig(alternatives=1)
    named: list[str] = []
    with tempfile.TemporaryDirectory() as home:
        link = dialect_model_dir(family, Path(home))
        link.parent.mkdir(parents=True)
        link.symlink_to(staged.resolve(), target_is_directory=True)
        shared = DialectRecognisers(plain.asr, identifier,
                                    WhisperEncoder(base, window=identifier.window), config,
                                    base, Path(home))
        calls: dict[str, object] = {}

        def routed(rec: Recording) -> str:
            call = calls.setdefault(rec.speaker, shared.for_call(f"mandarin-{rec.speaker}"))
            transcript = call.transcribe(telephone_round_trip(rec.audio))
            named.append(transcript.dialect or "unknown")
            return transcript.text

        rows_r = cer_rows(routed, clips)
    out = {"clips": len(clips), "cer_base": round(corpus_cer(rows_b), 4),
           "cer_pipeline": round(corpus_cer(rows_r), 4),
           "cer_dialect_model": round(corpus_cer(rows_w), 4),
           "turns_named": dict(sorted(Counter(named).items()))}
    log(f"Mandarin (AISHELL, {len(clips)} clips, phone band): CER Whisper base "
        f"{out['cer_base']:.1%}; dialect pipeline with the {family} model installed "
        f"{out['cer_pipeline']:.1%} (turns named {out['turns_named']}); every clip through "
        f"the {family} model {out['cer_dialect_model']:.1%}")
    return out


def install_refusal(held: dict, mandarin: dict, margin: float) -> str | None:
    """Why a trained model must not be installed, or None: it must read held-out speakers
    of its family better than Whisper base, and Mandarin callers through the dialect
    pipeline with it installed at most ``margin`` worse than Whisper base alone."""
    if held["tuned"] >= held["base"]:
        return (f"held-out CER got no better (base {held['base']:.1%}, tuned "
                f"{held['tuned']:.1%})")
    if mandarin and mandarin["cer_pipeline"] > mandarin["cer_base"] + margin:
        return (f"Mandarin CER with it installed {mandarin['cer_pipeline']:.1%} is more than "
                f"{margin:.0%} over Whisper base's {mandarin['cer_base']:.1%}")
    return None


def install(staged: Path, target: Path) -> Path:
    """Move a merged model into the registry's place for its family (replacing an older one;
    the old one stays until the new one is complete)."""
    tmp = target.with_name(target.name + ".new")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(staged, tmp)
    if target.exists():
        shutil.rmtree(target)
    tmp.replace(target)
    return target


def _file_digest(path: Path) -> str:
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=8).hexdigest()


def add_dialect_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--dialect`` flags of ``tierline train asr``."""
    parser.add_argument("data_dir", nargs="?", metavar="DATA_DIR",
                        help="with --dialect: folder of audio and transcripts.tsv")
    parser.add_argument("--dialect", metavar="FAMILY",
                        help="train a dialect adapter (yue, chuan, wu, min, hakka, mandarin) "
                             "from DATA_DIR instead of the call-centre adapter")
    parser.add_argument("--folds", type=int, default=3,
                        help="with --dialect: speaker-disjoint folds for the held-out CER "
                             "(1: one split by --held-out)")
    parser.add_argument("--held-out", type=float, default=0.25,
                        help="with --dialect --folds 1: share of speakers held out")
    parser.add_argument("--recipes", default=",".join(DEFAULT_RECIPES),
                        help="with --dialect: telephone-band copies of each recording "
                             "(ulaw, alaw, noise, speed, clean)")
    parser.add_argument("--text-side", action="store_true",
                        help="with --dialect: adapt the text side only, not the "
                             "cross-attention")
    parser.add_argument("--mandarin", type=int, default=20,
                        help="with --dialect: AISHELL clips for the Mandarin check (0: skip)")
    parser.add_argument("--mandarin-margin", type=float, default=0.01,
                        help="with --dialect: Mandarin CER through the new model may exceed "
                             "Whisper base's by this much and the model is still installed")
    parser.add_argument("--install-anyway", action="store_true",
                        help="with --dialect: install the model even when it reads held-out "
                             "speakers no better or Mandarin worse")

