"""Per-dialect recognition: which Whisper, which prompt and which text normaliser a family gets.

Once the identifier has named a caller's family (:mod:`tierline.dialects.dialect_id`), the
ASR stage asks :func:`resolve_dialect_model` how to decode that caller:

- **model directory**: ``$TIERLINE_HOME/models/whisper-base-<family>``, Whisper base with the
  family's decoder adapter merged in (``tierline train asr --dialect <family> DATA_DIR``
  builds it); every dialect model shares Whisper base's encoder, so the encoder output of a
  turn serves the identifier, the dialect decoder and the call-centre readings alike. A
  family without a model there decodes with Whisper base (:attr:`DialectModel.tuned` False).
- **prompt**: a decoder prompt in the family's own writing, or None. Only families where a
  prompt measured better on held-out speakers get one (docs/dialects.md).
- **normaliser**: Traditional → Simplified (OpenCC t2s) for Mandarin and Southwestern
  Mandarin only; Cantonese and the other families keep the characters the decoder wrote
  (係, 嘅, 咗, 喺 are Cantonese words, not variants to fold).

A family the registry has no entry for, or ``unknown``, gets Whisper base as today; a
:class:`CallDialectModels` logs that fallback once per call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from tierline.dialects.families import FAMILIES, UNKNOWN

logger = logging.getLogger("tierline.dialects")

MANDARIN = "mandarin"
T2S_FAMILIES = frozenset({"mandarin", "chuan"})
"""Families whose output is folded to Simplified characters."""

PROMPTS: dict[str, str | None] = {family: None for family in FAMILIES}
"""Decoder prompt per family (None: no prompt; see the module docstring)."""


@dataclass(frozen=True)
class DialectModel:
    """How one family's callers are decoded.

    Attributes:
        dialect: The family (``mandarin`` for the fallback).
        model_dir: The family's CTranslate2 Whisper directory, or None for Whisper base.
        prompt: Decoder prompt, or None.
        t2s: Whether output is converted Traditional → Simplified.
        tuned: Whether :attr:`model_dir` holds a dialect-tuned decoder.
    """

    dialect: str
    model_dir: Path | None
    prompt: str | None
    t2s: bool
    tuned: bool

    def normalise(self, text: str) -> str:
        """The family's output form of a decoded text (t2s or kept as written)."""
        text = text.strip()
        return _t2s().convert(text) if self.t2s else text

    def asr_config(self, base):
        """``base`` (an :class:`tierline.dialects.asr.AsrConfig`) with this family's prompt
        and normaliser."""
        return replace(base, initial_prompt=self.prompt, t2s=self.t2s)


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def dialect_model_dir(dialect: str, home: Path | None = None) -> Path:
    """Where the family's merged model lives (it may not exist)."""
    from tierline.dialects.models import tierline_home

    return (home or tierline_home()) / "models" / f"whisper-base-{dialect}"


def dialect_adapter_path(dialect: str, home: Path | None = None) -> Path:
    """Where ``tierline train asr --dialect`` writes the family's adapter."""
    from tierline.dialects.models import tierline_home

    return (home or tierline_home()) / "dialects" / dialect / "adapter.npz"


def _has_model(path: Path) -> bool:
    return (path / ".verified").is_file() and (path / "model.bin").is_file()


def resolve_dialect_model(dialect: str | None, home: Path | None = None) -> DialectModel:
    """The decoding set-up for a caller of ``dialect`` (module docstring).

    Args:
        dialect: A family, ``unknown`` or None (not identified yet).
        home: ``$TIERLINE_HOME`` override (tests).

    Returns:
        The family's entry; Whisper base with the family's prompt and normaliser when it has
        no tuned model; the Mandarin entry for ``unknown``, None or a name the registry does
        not know.
    """
    if dialect is None or dialect == UNKNOWN or dialect not in FAMILIES:
        dialect = MANDARIN
    path = dialect_model_dir(dialect, home)
    tuned = dialect != MANDARIN and _has_model(path)
    return DialectModel(dialect, path if tuned else None, PROMPTS.get(dialect),
                        dialect in T2S_FAMILIES, tuned)


class CallDialectModels:
    """One call's view of the registry: resolves a family and logs a fallback once per call.

    Args:
        call_id: Named in the log line.
        home: ``$TIERLINE_HOME`` override (tests).
    """

    def __init__(self, call_id: str = "", home: Path | None = None) -> None:
        self.call_id = call_id
        self.home = home
        self._warned: set[str] = set()

    def resolve(self, dialect: str | None) -> DialectModel:
        """:func:`resolve_dialect_model`, logging (once per family and call) when a named
        family has no tuned model and falls back to Whisper base."""
        model = resolve_dialect_model(dialect, self.home)
        named = dialect not in (None, UNKNOWN, MANDARIN)
        if named and not model.tuned and dialect not in self._warned:
            self._warned.add(dialect)
            where = dialect_model_dir(dialect, self.home) if dialect in FAMILIES else None
            logger.info("call %s: no %s model%s; decoding with Whisper base",
                        self.call_id or "-", dialect,
                        f" in {where}" if where else " in the registry")
        return model
