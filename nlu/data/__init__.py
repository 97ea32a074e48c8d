"""The NLU corpus: our labelled sales-call utterances, their ASR copies, and the public corpora.

Committed files (written for this product, see docs/nlu.md):

- ``intents.tsv`` (``intent``, ``split``, ``text``): caller utterances labelled with one of the
  15 intents, with a fixed ``train``/``dev``/``test`` split. The split was assigned once per
  group of near-duplicates (character-bigram Jaccard >= 0.5 within an intent), so two
  utterances that differ by a filler word never straddle train and test.
- ``intents_asr.tsv`` (``text``, ``asr``): what our Whisper heard when an utterance of
  ``intents.tsv`` was spoken by espeak-ng and sent through an 8 kHz μ-law phone line
  (regenerate with ``python -m tierline.nlu.training.asr_corpus``). Label and split come
  from the clean row, so a noisy copy never crosses the split.
- ``intents_asr_kokoro.tsv`` (``text``, ``asr``): the same, spoken by the neural Kokoro-82M
  model instead (``python -m tierline.nlu.training.asr_corpus --tts kokoro``): Whisper's
  errors on it are homophones and dropped syllables, as on real callers, where espeak-ng's robotic
  voice loses most of the utterance.
- ``sentiment.tsv`` (``label``, ``split``, ``text``): caller utterances labelled
  ``neg``/``neu``/``pos``.
- ``challenge.tsv`` (``intent``, ``text``): utterances written after the model design was
  fixed, never used for training or model selection; a second look at generalisation beside
  the test split. The first 150 in plain product-owner style; then 438 (6 Dec) by three
  sessions that saw only the intent definitions, never the corpus: everyday phone turns,
  short and regional turns, long run-on turns (rows equal to a corpus row dropped).
- ``challenge_asr.tsv``, ``challenge_asr_kokoro.tsv``: the challenge set's two ASR copies,
  made as the corpus's (``python -m tierline.nlu.training.asr_corpus --splits challenge``).

Public corpora are read in place from the shared data directory, never copied into the
repository: SMP2017-ECDT queries and CrossWOZ user turns (out-of-domain ``other``) and the
ChineseNlpCorpus reviews (sentiment).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tierline.nlu.errors import NluError
from tierline.nlu.vocab import INTENTS

__all__ = [
    "ASR_COPIES", "CHALLENGE_COPIES", "DATA_DIR", "SPLITS", "SENTIMENT_LABELS", "Example",
    "asr_copies", "heard_enough", "copy_file", "load_challenge", "load_heard_intents",
    "load_intents", "load_noisy_intents", "load_noisy_pairs", "load_ood_other", "load_reviews",
    "load_sentiment", "shared_data_dir", "stable_bucket",
]

DATA_DIR = Path(__file__).resolve().parent
SPLITS = ("train", "dev", "test")
SENTIMENT_LABELS = ("neg", "neu", "pos")
"""Sentiment classes in model output order."""

_REPO_SHARED = DATA_DIR.parents[2] / "shared" / "data"
# Out-of-domain rows that mean an in-domain intent when a caller says them on a sales call
# (SMP2017 files "多少钱" and robot small talk under chat): dropped from ``other``.
_OOD_CONFLICT = re.compile(r"^(?:一晚)?多少钱[？?]?$|机器人|人工|真人")


@dataclass(frozen=True)
class Example:
    """One labelled text.

    Attributes:
        text: The utterance.
        label: Intent (``INTENTS``) or sentiment (``SENTIMENT_LABELS``) label.
        split: ``train``, ``dev`` or ``test``.
        source: Where it comes from (``corpus``, ``asr``, ``smp2017/<tag>``, ``crosswoz``,
            a review file name, ...).
        beam: For an ASR copy, the recogniser's readings as (text, summed log-probability),
            best first, when its file records them (see :func:`asr_beams`).
    """

    text: str
    label: str
    split: str
    source: str = "corpus"
    beam: tuple[tuple[str, float], ...] = ()


def stable_bucket(key: str, buckets: int = 100) -> int:
    """A bucket in ``[0, buckets)`` that depends only on ``key`` (sha1), for fixed splits."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % buckets


def _read_tsv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    except (OSError, UnicodeDecodeError) as exc:
        raise NluError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return rows


def _check_split(split: str | None) -> None:
    if split is not None and split not in SPLITS:
        raise NluError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")


def load_intents(split: str | None = None, path: Path | None = None) -> list[Example]:
    """Labelled intent utterances of ``intents.tsv``.

    Args:
        split: Only this split (all when None).
        path: Another corpus file with the same columns.

    Returns:
        Examples in file order.

    Raises:
        NluError: unreadable file, unknown intent or split.
    """
    return _load_labelled(path or DATA_DIR / "intents.tsv", "intent", INTENTS, split)


def _load_labelled(path: Path, label_column: str, labels: tuple[str, ...],
                   split: str | None) -> list[Example]:
    _check_split(split)
    out = []
    for row in _read_tsv(path):
        label, part, text = row.get(label_column), row.get("split"), row.get("text")
        if label not in labels or part not in SPLITS or not text:
            raise NluError(f"{path.name}: bad row {row}")
        if split is None or part == split:
            out.append(Example(text, label, part))
    return out


def load_challenge() -> list[Example]:
    """The challenge set (split ``challenge``): evaluation only."""
    out = []
    for row in _read_tsv(DATA_DIR / "challenge.tsv"):
        label, text = row.get("intent"), row.get("text")
        if label not in INTENTS or not text:
            raise NluError(f"challenge.tsv: bad row {row}")
        out.append(Example(text, label, "challenge"))
    return out


ASR_COPIES = {"espeak": "intents_asr.tsv", "kokoro": "intents_asr_kokoro.tsv"}
"""ASR copy name (the TTS engine that spoke the corpus) → its transcript file in ``DATA_DIR``."""

CHALLENGE_COPIES = {"espeak": "challenge_asr.tsv", "kokoro": "challenge_asr_kokoro.tsv"}
"""The same copies of the challenge set (split ``challenge``), in files of their own."""


def copy_file(copy: str, split: str | None = None) -> Path:
    """The transcript file of ASR copy ``copy`` for ``split`` (``challenge`` or the corpus).

    Raises:
        NluError: unknown copy.
    """
    if copy not in ASR_COPIES:
        raise NluError(f"unknown ASR copy {copy!r}; choose from {', '.join(ASR_COPIES)}")
    return DATA_DIR / (CHALLENGE_COPIES if split == "challenge" else ASR_COPIES)[copy]


Beam = tuple[tuple[str, float], ...]
"""Whisper's final-beam readings of one utterance: (text, summed log-probability), best first."""


def _read_copy(path: Path) -> dict[str, tuple[str, Beam]]:
    """Map clean corpus text → (Whisper transcript, beam) for every row of a copy file.

    The optional ``beam`` column holds a JSON list of ``[text, summed log-probability]``,
    best first (the first is the ``asr`` transcript); rows written before it have none.
    """
    out: dict[str, tuple[str, Beam]] = {}
    for r in _read_tsv(path) if path.is_file() else []:
        if not r.get("text"):
            continue
        beam: Beam = ()
        if r.get("beam"):
            try:
                beam = tuple((str(t), float(lp)) for t, lp in json.loads(r["beam"]))
            except (ValueError, TypeError) as exc:
                raise NluError(f"{path.name}: bad beam for {r['text']!r}: {exc}") from None
        out[r["text"]] = (r.get("asr") or "", beam)
    return out


def asr_copies(path: Path | None = None) -> dict[str, str]:
    """Map clean corpus text → its Whisper transcript (empty when Whisper heard nothing)."""
    rows = _read_copy(path or DATA_DIR / ASR_COPIES["espeak"])
    return {text: heard for text, (heard, _) in rows.items()}


def asr_beams(path: Path) -> dict[str, Beam]:
    """Map clean corpus text → Whisper's final-beam readings of it, for rows that have them."""
    return {text: beam for text, (_, beam) in _read_copy(path).items() if beam}


def load_noisy_intents(split: str | None = None, copy: str = "espeak") -> list[Example]:
    """ASR copies of the corpus utterances that have one, with the clean row's label and split.

    Transcripts where Whisper heard nothing are kept (as empty text): an empty turn is
    what the pipeline sees, and it must come out as ``other`` or be skipped by the caller.

    Args:
        split: ``train``, ``dev``, ``test`` or None for all.
        copy: A key of :data:`ASR_COPIES`.
    """
    return _noisy(split, copy, heard_only=False)


def heard_enough(heard: str, clean: str) -> bool:
    """Whether a transcript kept at least a third of the distinct characters of what was
    said (and at least two): below that, Whisper heard nothing or hallucinated, and no
    reader can recover the intent."""
    if not heard:
        return False
    shared = len(set(heard) & set(clean))
    return shared >= max(2, len(set(clean)) / 3)


def load_heard_intents(split: str | None = None, copy: str = "espeak") -> list[Example]:
    """The ASR copies that pass :func:`heard_enough` (a subset of :func:`load_noisy_intents`)."""
    return _noisy(split, copy, heard_only=True)


def load_noisy_pairs(split: str | None = None, copy: str = "espeak"
                     ) -> list[tuple[Example, Example]]:
    """Each corpus utterance that has an ASR copy, beside that copy: (clean row, what
    Whisper heard with the clean row's label and split), in corpus order.

    Args:
        split: ``train``, ``dev``, ``test``, ``challenge`` (the challenge set's copies) or
            None for the whole corpus.
        copy: A key of :data:`ASR_COPIES`.

    Raises:
        NluError: unknown copy or split, or a bad beam column in its file.
    """
    copies = _read_copy(copy_file(copy, split))
    out = []
    for e in load_challenge() if split == "challenge" else load_intents(split):
        heard, beam = copies.get(e.text, (None, ()))
        if heard is not None:
            out.append((e, Example(heard, e.label, e.split, "asr", beam)))
    return out


def _noisy(split: str | None, copy: str, heard_only: bool) -> list[Example]:
    return [noisy for clean, noisy in load_noisy_pairs(split, copy)
            if not heard_only or heard_enough(noisy.text, clean.text)]


def load_sentiment(split: str | None = None) -> list[Example]:
    """Caller utterances of ``sentiment.tsv`` labelled neg/neu/pos."""
    return _load_labelled(DATA_DIR / "sentiment.tsv", "label", SENTIMENT_LABELS, split)


def shared_data_dir(path: str | Path | None = None) -> Path:
    """The shared public-data directory (``$TIERLINE_DATA`` or ``../shared/data``).

    Raises:
        NluError: the directory or its ``text/`` folder is missing.
    """
    chosen = Path(path or os.environ.get("TIERLINE_DATA") or _REPO_SHARED).expanduser()
    if not (chosen / "text").is_dir():
        raise NluError(f"shared data not found: {chosen}/text (set --data or TIERLINE_DATA)")
    return chosen


def _split_of(key: str) -> str:
    """Fixed split of a public-corpus row by text hash: 20 % test, 5 % dev, 75 % train."""
    b = stable_bucket(key)
    return "test" if b < 20 else ("dev" if b < 25 else "train")


def load_ood_other(data_dir: Path) -> list[Example]:
    """Real out-of-domain utterances as ``other``: SMP2017 queries and CrossWOZ user turns.

    A fixed 20 % (by text hash) is marked ``test`` (false alarms on unseen out-of-domain
    text) and 5 % ``dev``. Rows matching a short conflict list (bare "多少钱", robot talk) are
    dropped because on a sales call they mean an in-domain intent.
    """
    out: list[Example] = []
    smp = data_dir / "text" / "smp2017_ecdt_task1" / "Chinese_data.tsv"
    woz = data_dir / "text" / "crosswoz" / "user_utterances_intents.tsv"
    for row in _read_tsv(smp):
        text = (row.get("Sentence") or "").strip()
        if text and not _OOD_CONFLICT.search(text):
            out.append(Example(text, "other", _split_of(text), f"smp2017/{row.get('Tag')}"))
    for row in _read_tsv(woz):
        text = (row.get("utterance") or "").strip()
        if text and not _OOD_CONFLICT.search(text):
            out.append(Example(text, "other", _split_of(text), "crosswoz"))
    return out


def load_reviews(data_dir: Path) -> list[Example]:
    """ChineseNlpCorpus reviews as sentiment examples (``pos``/``neg``; 20 % test, 5 % dev).

    Reviews come from online shopping (10 categories), food delivery and hotels; they are
    written, longer than caller turns, and have no neutral class (see docs/nlu.md).
    """
    folder = data_dir / "text" / "chinesenlpcorpus"
    out: list[Example] = []
    for name in ("online_shopping_10_cats.csv", "waimai_10k.csv", "ChnSentiCorp_htl_all.csv"):
        path = folder / name
        try:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                for row in csv.DictReader(fh):
                    text = (row.get("review") or "").strip().lstrip("\ufeff")
                    if not text or row.get("label") not in ("0", "1"):
                        continue
                    label = "pos" if row["label"] == "1" else "neg"
                    out.append(Example(text, label, _split_of(text), name.split(".")[0]))
        except (OSError, UnicodeDecodeError) as exc:
            raise NluError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return out
