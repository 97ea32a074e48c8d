"""The seed's three-file training format: dialogs, numerical CRM columns, labels.

- ``train_dialogs.csv``: a header with a ``dialog`` (or ``text``) column and optionally
  ``id``. One row per call; the caller's turns are separated by ``|`` or line breaks (a
  dialog without separators is split after 。！？).
- ``train_numerical.csv``: a header with the eight CRM feature names (any order; RFM columns
  ``recency_days``, ``frequency``, ``monetary`` allowed) and optionally ``id``. An empty
  cell means unknown (the documented default is used).
- ``train_labels.csv``: a header with ``label`` (0..3 = high, medium, low, churn_risk, or the
  tier names) and optionally ``id``.

Rows line up by position; when every file has an ``id`` column the ids must agree row by row.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tierline.segmentation.errors import TierDataError
from tierline.segmentation.features import (
    CRM_FEATURES,
    RFM_FEATURES,
    CustomerError,
    CustomerProfile,
    parse_customer,
)
from tierline.segmentation.records import TIERS

_TURN_SPLIT = re.compile(r"\s*(?:\||\r?\n)\s*")
_SENTENCE = re.compile(r"(?<=[。！？!?])")


@dataclass(frozen=True)
class SeedDialog:
    """One labelled call of the seed format."""

    id: str
    customer: CustomerProfile
    utterances: tuple[str, ...]
    label: str


def split_turns(text: str) -> tuple[str, ...]:
    """Caller turns of one dialog cell."""
    parts = [p for p in _TURN_SPLIT.split(text.strip()) if p]
    if len(parts) == 1:
        parts = [p.strip() for p in _SENTENCE.split(parts[0]) if p.strip()]
    return tuple(parts)


def read_csv(path: str | Path, what: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows (stripped cells) of a CSV file.

    Raises:
        TierDataError: missing/unreadable file, no header, no rows, or a row longer than
            the header.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = [h.strip() for h in (reader.fieldnames or [])]
    except FileNotFoundError:
        raise TierDataError(f"{what} file not found: {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TierDataError(f"cannot read {what} file {path}: {exc}") from None
    if not header:
        raise TierDataError(f"{path}: empty file, expected a header row")
    if not rows:
        raise TierDataError(f"{path}: no data rows")
    for i, r in enumerate(rows):
        if r.get(None):
            raise TierDataError(f"{path}: row {i + 2} has more cells than the header")
    rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k is not None}
            for r in rows]
    return header, rows


def parse_label(value: str, where: str) -> str:
    """A label cell: 0..3 or a tier name."""
    v = value.strip().lower()
    if v in TIERS:
        return v
    if v.isdigit() and int(v) < len(TIERS):
        return TIERS[int(v)]
    raise TierDataError(f"{where}: label must be 0..3 or one of {', '.join(TIERS)}, "
                        f"got {value!r}")


def _number(value: str, where: str) -> float:
    try:
        return float(value.replace(",", ""))
    except ValueError:
        raise TierDataError(f"{where}: not a number: {value!r}") from None


def customer_from_row(row: dict[str, str], where: str, cid: str = "") -> CustomerProfile:
    """A CRM record from a CSV row of feature columns (empty cells = unknown)."""
    known = set(CRM_FEATURES + RFM_FEATURES)
    feats = {k: _number(v, f"{where}, column {k}") for k, v in row.items()
             if k in known and v != ""}
    try:
        return parse_customer({"id": cid, **feats})
    except CustomerError as exc:
        raise TierDataError(f"{where}: {exc}") from None


def load_seed(dialogs: str | Path, numerical: str | Path,
              labels: str | Path) -> list[SeedDialog]:
    """Read and cross-check the three files.

    Raises:
        TierDataError: a missing or malformed file, missing columns, bad values, or rows
            that do not line up.
    """
    dh, drows = read_csv(dialogs, "dialogs")
    nh, nrows = read_csv(numerical, "numerical")
    lh, lrows = read_csv(labels, "labels")
    text_col = next((c for c in ("dialog", "text", "dialogue") if c in dh), None)
    if text_col is None:
        raise TierDataError(f"{dialogs}: needs a 'dialog' column (has: {', '.join(dh)})")
    missing = [c for c in CRM_FEATURES if c not in nh]
    if missing:
        raise TierDataError(f"{numerical}: missing column(s) {', '.join(missing)}")
    unknown = [c for c in nh if c not in set(CRM_FEATURES + RFM_FEATURES) | {"id"}]
    if unknown:
        raise TierDataError(f"{numerical}: unknown column(s) {', '.join(unknown)}")
    if "label" not in lh:
        raise TierDataError(f"{labels}: needs a 'label' column (has: {', '.join(lh)})")
    if not len(drows) == len(nrows) == len(lrows):
        raise TierDataError(
            f"rows do not line up: {len(drows)} dialogs, {len(nrows)} numerical rows, "
            f"{len(lrows)} labels")
    with_ids = all("id" in h for h in (dh, nh, lh))
    out = []
    for i, (d, n, lab) in enumerate(zip(drows, nrows, lrows, strict=True)):
        did = d.get("id") or str(i)
        if with_ids and not d["id"] == n["id"] == lab["id"]:
            raise TierDataError(
                f"row {i + 2}: ids do not line up (dialogs {d['id']!r}, numerical "
                f"{n['id']!r}, labels {lab['id']!r})")
        turns = split_turns(d[text_col])
        if not turns:
            raise TierDataError(f"{dialogs}: row {i + 2} (id {did}) has an empty dialog")
        customer = customer_from_row(n, f"{numerical}: row {i + 2}", did)
        out.append(SeedDialog(did, customer, turns,
                              parse_label(lab["label"], f"{labels}: row {i + 2}")))
    return out


def write_seed(items: Iterable[tuple[str, CustomerProfile, tuple[str, ...], str]],
               directory: str | Path) -> list[Path]:
    """Write (id, customer, utterances, label) rows as the three seed files.

    Returns:
        The three paths written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / n for n in ("train_dialogs.csv", "train_numerical.csv",
                                     "train_labels.csv")]
    with (paths[0].open("w", encoding="utf-8", newline="") as fd,
          paths[1].open("w", encoding="utf-8", newline="") as fn,
          paths[2].open("w", encoding="utf-8", newline="") as fl):
        wd, wn, wl = csv.writer(fd), csv.writer(fn), csv.writer(fl)
        wd.writerow(["id", "dialog"])
        wn.writerow(["id", *CRM_FEATURES])
        wl.writerow(["id", "label"])
        for did, customer, utterances, label in items:
            wd.writerow([did, " | ".join(utterances)])
            wn.writerow([did, *(("" if k in customer.defaulted else f"{customer.features[k]:g}")
                                for k in CRM_FEATURES)])
            wl.writerow([did, TIERS.index(label)])
    return paths
