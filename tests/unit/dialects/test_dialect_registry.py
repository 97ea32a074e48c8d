"""The per-dialect recognition registry: model directory, prompt, normaliser, fallback logged
once per call."""

from __future__ import annotations

import logging

import pytest

from tierline.dialects.asr import AsrConfig
from tierline.dialects.registry import (
    CallDialectModels,
    dialect_adapter_path,
    dialect_model_dir,
    resolve_dialect_model,
)


def _fake_model(home, dialect):
    path = dialect_model_dir(dialect, home)
    path.mkdir(parents=True)
    (path / "model.bin").write_bytes(b"x")
    (path / ".verified").write_text("stamp\n")
    return path


@pytest.mark.parametrize("dialect", [None, "unknown", "klingon", "mandarin"])
def test_unnamed_or_unknown_dialects_decode_as_mandarin_with_whisper_base(tmp_path, dialect):
    entry = resolve_dialect_model(dialect, tmp_path)
    assert (entry.dialect, entry.model_dir, entry.tuned, entry.t2s) == \
        ("mandarin", None, False, True)


def test_a_trained_family_gets_its_merged_model(tmp_path):
    path = _fake_model(tmp_path, "yue")
    entry = resolve_dialect_model("yue", tmp_path)
    assert entry.tuned and entry.model_dir == path
    assert path.name == "whisper-base-yue"
    assert dialect_adapter_path("yue", tmp_path) == tmp_path / "dialects" / "yue" / "adapter.npz"


def test_a_half_written_model_is_not_used(tmp_path):
    path = dialect_model_dir("yue", tmp_path)
    path.mkdir(parents=True)
    (path / "model.bin").write_bytes(b"x")  # no .verified marker: an interrupted merge
    assert not resolve_dialect_model("yue", tmp_path).tuned


def test_only_mandarin_families_fold_traditional_characters(tmp_path):
    text = "佢係我嘅朋友，喺度等緊你。"
    assert resolve_dialect_model("yue", tmp_path).normalise(text) == text
    assert resolve_dialect_model("wu", tmp_path).normalise("儂好") == "儂好"
    assert resolve_dialect_model("mandarin", tmp_path).normalise("這個價錢") == "这个价钱"
    assert resolve_dialect_model("chuan", tmp_path).normalise(" 這個 ") == "这个"


def test_asr_config_carries_prompt_and_normaliser(tmp_path):
    config = resolve_dialect_model("yue", tmp_path).asr_config(AsrConfig(beam_size=3))
    assert (config.beam_size, config.t2s) == (3, False)
    assert config.initial_prompt == resolve_dialect_model("yue", tmp_path).prompt


def test_fallback_is_logged_once_per_call_and_family(tmp_path, caplog):
    _fake_model(tmp_path, "wu")
    call = CallDialectModels("call-7", tmp_path)
    with caplog.at_level(logging.INFO, logger="tierline.dialects"):
        for _ in range(3):
            assert not call.resolve("yue").tuned
        assert call.resolve("wu").tuned  # has a model: nothing to log
        call.resolve("chuan")
        call.resolve(None)
        call.resolve("unknown")
        call.resolve("mandarin")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "call call-7: no yue model" in lines[0] and "Whisper base" in lines[0]
    assert "no chuan model" in lines[1]
    other = CallDialectModels("call-8", tmp_path)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tierline.dialects"):
        other.resolve("yue")
    assert len(caplog.records) == 1  # a new call logs again
