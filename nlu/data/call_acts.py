"""Labelled turns of the call-act model (opt_out / callback / other), and its held-out sets.

- ``call_acts.tsv`` (``label``, ``source``, ``text``): training rows written for the model
  (``written``) and training-split rows of ``intents.tsv`` relabelled for it (``intents``);
  :func:`training_rows` adds every other training row of ``intents.tsv`` as ``other``.
- ``call_acts_heldout.tsv`` (``label``, ``style``, ``text``): written from the definitions,
  before and apart from the training rows (header of the file).
- ``call_acts_heldout_others.tsv`` (``label``, ``origin``, ``text``): the opt_out and
  callback rows among the dev and test rows of ``intents.tsv`` and the challenge set, texts
  written by other sessions; :func:`heldout_others` adds every other such row as ``other``.

Lines starting with ``#`` are comments.
"""

from __future__ import annotations

from tierline.nlu.call_acts import ACTS
from tierline.nlu.data import DATA_DIR, Example, load_challenge, load_intents
from tierline.nlu.errors import NluError

__all__ = ["heldout", "heldout_others", "training_rows"]


def _rows(name: str, second: str) -> list[Example]:
    path = DATA_DIR / name
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise NluError(f"cannot read {path}: {exc.strerror or exc}") from None
    lines = [x for x in lines if x.strip() and not x.startswith("#")]
    if not lines or lines[0].split("\t") != ["label", second, "text"]:
        raise NluError(f"{path.name}: header must be label, {second}, text")
    out = []
    for n, line in enumerate(lines[1:], start=2):
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] not in ACTS or not parts[2].strip():
            raise NluError(f"{path.name}: bad row {n}: {line!r}")
        out.append(Example(parts[2], parts[0], "train", parts[1]))
    return out


def training_rows() -> list[Example]:
    """``call_acts.tsv`` plus every other training row of ``intents.tsv`` as ``other``."""
    rows = _rows("call_acts.tsv", "source")
    labelled = {r.text for r in rows}
    rows += [Example(e.text, "other", "train", "intents") for e in load_intents("train")
             if e.text not in labelled]
    return rows


def heldout() -> list[Example]:
    """The held-out turns written from the definitions (``source`` holds the style)."""
    return [Example(e.text, e.label, "test", e.source)
            for e in _rows("call_acts_heldout.tsv", "style")]


def heldout_others() -> list[Example]:
    """Dev, test and challenge rows of the intent corpus, labelled for call acts."""
    rows = _rows("call_acts_heldout_others.tsv", "origin")
    labelled = {r.text for r in rows}
    texts = [e.text for e in load_intents("dev") + load_intents("test") + load_challenge()]
    rows = [Example(e.text, e.label, "test", e.source) for e in rows]
    rows += [Example(t, "other", "test", "intents-dev-test-challenge") for t in texts
             if t not in labelled]
    return rows
