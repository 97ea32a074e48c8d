"""The shared public data (../shared/data beside the repository, or $TIERLINE_DATA)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from helpers.paths import ROOT

DATA_ENV = "TIERLINE_DATA"


def shared_data_dir() -> Path:
    """The shared data folder; skips the calling test with a reason when it is absent."""
    chosen = Path(os.environ.get(DATA_ENV) or ROOT.parent / "shared" / "data").expanduser()
    if not chosen.is_dir():
        pytest.skip(f"shared data not found at {chosen}: set {DATA_ENV}")
    return chosen


def shared_subdir(name: str) -> Path:
    """One corpus inside the shared data (e.g. ``aishell1_sample``); skips when absent."""
    path = shared_data_dir() / name
    if not path.is_dir():
        pytest.skip(f"shared data has no {name} at {path}: set {DATA_ENV}")
    return path


def aishell_rows(n: int) -> list[tuple[Path, str]]:
    """The first ``n`` clips of the AISHELL-1 sample with their transcripts; skips when absent."""
    folder = shared_subdir("aishell1_sample")
    with (folder / "selected_60.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))[:n]
    return [(folder / "wav" / f"{r['utt_id']}.wav", r["transcript"]) for r in rows]
