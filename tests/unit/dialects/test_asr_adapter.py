"""The call-centre decoder adapter: model file I/O, merging, the shipped adapter.

Assembly onto the real Whisper base is in model/test_asr_adapter_assembly.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tierline.dialects.ct2_weights import Ct2Weights, read_ct2, write_ct2
from tierline.dialects.decoder_lora import ADAPTER_PATH, DecoderAdapter, load_adapter, merge_adapter
from tierline.dialects.errors import ModelError
from tierline.dialects.models import (
    WHISPER_BASE_SHA256,
)

FFN = "decoder/layer_0/ffn/linear_0/weight"


def _tiny_weights() -> Ct2Weights:
    rng = np.random.default_rng(0)
    return Ct2Weights(6, "WhisperSpec", 3, {
        FFN: rng.normal(size=(8, 4)).astype(np.float16),
        "decoder/num_heads": np.array(2, np.int16),
        "decoder/embeddings/weight": rng.normal(size=(5, 4)).astype(np.float16),
    }, [("decoder/projection/weight", "decoder/embeddings/weight")])


def test_model_file_round_trips(tmp_path: Path):
    weights = _tiny_weights()
    write_ct2(weights, tmp_path / "model.bin")
    again = read_ct2(tmp_path / "model.bin")
    assert (again.version, again.spec, again.revision) == (6, "WhisperSpec", 3)
    assert again.aliases == weights.aliases
    for name, array in weights.variables.items():
        assert again.variables[name].dtype == array.dtype
        assert np.array_equal(again.variables[name], array)
    write_ct2(again, tmp_path / "again.bin")
    assert (tmp_path / "again.bin").read_bytes() == (tmp_path / "model.bin").read_bytes()


def test_unreadable_model_file_is_one_clear_error(tmp_path: Path):
    with pytest.raises(ModelError, match="cannot read"):
        read_ct2(tmp_path / "missing.bin")
    write_ct2(_tiny_weights(), tmp_path / "model.bin")
    raw = (tmp_path / "model.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelError, match="not a readable CTranslate2 model"):
        read_ct2(tmp_path / "cut.bin")
    (tmp_path / "long.bin").write_bytes(raw + b"xx")
    with pytest.raises(ModelError, match="unexpected bytes"):
        read_ct2(tmp_path / "long.bin")


def test_merge_adds_the_low_rank_update():
    weights = _tiny_weights()
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 4)).astype(np.float16), rng.normal(size=(8, 2)).astype(np.float16)
    merged = merge_adapter(weights, DecoderAdapter({FFN: (a, b)}, {}))
    expected = weights.variables[FFN].astype(np.float64) + b.astype(np.float64) @ a
    assert merged.variables[FFN].dtype == np.float16
    assert np.array_equal(merged.variables[FFN], expected.astype(np.float16))
    assert merged.variables["decoder/embeddings/weight"] is weights.variables[
        "decoder/embeddings/weight"]
    zero = merge_adapter(weights, DecoderAdapter({FFN: (a, np.zeros_like(b))}, {}))
    assert np.array_equal(zero.variables[FFN], weights.variables[FFN])
    with pytest.raises(ModelError, match="does not fit"):
        merge_adapter(weights, DecoderAdapter({FFN: (a.T, b)}, {}))


def test_adapter_file_round_trips_and_bad_files_are_caught(tmp_path: Path):
    a, b = np.ones((2, 4), np.float16), np.ones((8, 2), np.float16)
    DecoderAdapter({FFN: (a, b)}, {"base_sha256": "x", "rank": 2}).save(tmp_path / "a.npz")
    again = load_adapter(tmp_path / "a.npz")
    assert again.base_sha256 == "x" and again.meta["rank"] == 2
    assert np.array_equal(again.factors[FFN][1], b)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="cannot read the ASR adapter"):
        load_adapter(tmp_path / "junk.npz")
    np.savez(tmp_path / "half.npz", meta=np.array("{}"), **{f"{FFN}|a": a})
    with pytest.raises(ModelError, match="do not pair up"):
        load_adapter(tmp_path / "half.npz")
    np.savez(tmp_path / "nometa.npz", **{f"{FFN}|a": a, f"{FFN}|b": b})
    with pytest.raises(ModelError, match="no meta"):
        load_adapter(tmp_path / "nometa.npz")


def test_shipped_adapter_is_small_and_fits_whisper_base():
    adapter = load_adapter()
    assert ADAPTER_PATH.stat().st_size < 4_000_000
    assert adapter.base_sha256 == WHISPER_BASE_SHA256
    # self-attention QKV and output and both feed-forward matrices of each of six layers;
    # the cross-attention is left as shipped
    assert len(adapter.factors) == 24
    assert not any("/attention/" in name for name in adapter.factors)
    assert all(name.startswith("decoder/layer_") for name in adapter.factors)
    assert {a.shape[0] for a, _ in adapter.factors.values()} == {adapter.meta["rank"]}
    assert adapter.meta["dev_loss_after"] < adapter.meta["dev_loss_before"]
