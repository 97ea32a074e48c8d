"""Whisper base assembly from its two PyPI packages: size and checksum, idempotence, corruption.

The errors that need no model are in unit/dialects/test_model_paths.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tierline.dialects.errors import ModelError
from tierline.dialects.models import (
    WHISPER_BASE_SIZE,
    assemble_whisper_base,
    resolve_asr_model,
    verify_whisper_base,
    whisper_base_dir,
)


@pytest.mark.whisper
def test_assembled_model_verifies():
    verify_whisper_base(whisper_base_dir())
    assert (whisper_base_dir() / "model.bin").stat().st_size == WHISPER_BASE_SIZE


def test_assembly_is_idempotent_and_checked(tmp_path: Path):
    target = tmp_path / "wb"
    seen: list[tuple[int, int]] = []
    assemble_whisper_base(target, progress=lambda done, total: seen.append((done, total)))
    verify_whisper_base(target)
    assert seen[-1][0] == seen[-1][1] == WHISPER_BASE_SIZE
    stamp = (target / "model.bin").stat().st_mtime_ns
    assemble_whisper_base(target)  # second run: nothing rewritten
    assert (target / "model.bin").stat().st_mtime_ns == stamp
    assert not (target / "model.bin.tmp").exists()
    assert resolve_asr_model(target) == target


@pytest.mark.whisper
def test_corrupt_model_is_caught(tmp_path: Path):
    target = tmp_path / "wb"
    shutil.copytree(whisper_base_dir(), target)
    with (target / "model.bin").open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelError, match="SHA-256"):
        verify_whisper_base(target)
    with (target / "model.bin").open("r+b") as f:
        f.truncate(1000)
    with pytest.raises(ModelError, match="bytes"):
        verify_whisper_base(target)
    (target / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="tokenizer.json missing"):
        verify_whisper_base(target)
