"""The call-centre model assembled from the real Whisper base and the shipped adapter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tierline.dialects.ct2_weights import read_ct2
from tierline.dialects.decoder_lora import DecoderAdapter, load_adapter
from tierline.dialects.errors import ModelError
from tierline.dialects.models import (
    assemble_whisper_callcentre,
    resolve_asr_model,
    resolve_readings_model,
    whisper_base_dir,
    whisper_callcentre_dir,
)

pytestmark = pytest.mark.whisper


def test_callcentre_model_reads_beside_base_and_assembly_is_idempotent(tmp_path: Path):
    assert resolve_asr_model(None) == whisper_base_dir()  # the transcript stays Whisper base's
    assert resolve_readings_model(None) == whisper_callcentre_dir()
    target = assemble_whisper_callcentre(tmp_path / "cc")
    stamp = (target / "model.bin").stat().st_mtime_ns
    assemble_whisper_callcentre(tmp_path / "cc")  # same adapter: nothing rewritten
    assert (target / "model.bin").stat().st_mtime_ns == stamp
    assert not (target / "model.bin.tmp").exists()
    merged = read_ct2(target / "model.bin")
    base = read_ct2(whisper_base_dir() / "model.bin")
    changed = {n for n in base.variables
               if not np.array_equal(base.variables[n], merged.variables[n])}
    assert changed and changed <= set(load_adapter().factors)
    assert (target / "model.bin").read_bytes() == (whisper_callcentre_dir() / "model.bin"
                                                   ).read_bytes()


def test_adapter_for_another_model_is_refused(tmp_path: Path):
    adapter = load_adapter()
    DecoderAdapter(adapter.factors, {**adapter.meta, "base_sha256": "0" * 64}).save(
        tmp_path / "other.npz")
    with pytest.raises(ModelError, match="trained on another Whisper model"):
        assemble_whisper_callcentre(tmp_path / "cc", adapter_path=tmp_path / "other.npz")
    assert not (tmp_path / "cc" / "model.bin").exists()
    meta = json.loads(json.dumps(adapter.meta))
    assert meta["held_out_voice"] == 4
