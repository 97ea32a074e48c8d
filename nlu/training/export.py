"""Ship a trained model: ONNX export, INT8 weight quantisation and the metadata the runtime
reads (:mod:`tierline.nlu.onnx_models`: format, kind, labels, vocabulary, input sizes).
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from onnxruntime.quantization import QuantType, quantize_dynamic

from tierline.nlu.chars import CharVocab
from tierline.nlu.onnx_models import FORMAT
from tierline.nlu.training.config import ModelConfig
from tierline.nlu.training.features import FeatureEncoder, padded
from tierline.nlu.training.train_extra import nn, onnx, torch

__all__ = ["PRODUCER", "export"]

PRODUCER = "tierline.nlu.training.train"
"""``producer_name`` of the shipped files: the command module behind ``tierline train nlu``."""


class _Logits(nn.Module):
    """The model's logits alone (the graph's single output)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, input_ids, bigram_ids, sound_ids, attention_mask):
        return self.inner(input_ids, bigram_ids, sound_ids, attention_mask).logits


def export(model: nn.Module, vocab: CharVocab, labels: Sequence[str], cfg: ModelConfig,
           kind: str, info: dict, path: Path, log: Callable[[str], None]) -> None:
    """Export to ONNX, quantise weights to INT8 and embed the metadata."""
    model.eval()
    ids, bigrams, sounds, mask = padded([FeatureEncoder(vocab, cfg)("您好我想问一下价格")])
    names = ["input_ids", "bigram_ids", "sound_ids", "attention_mask"]
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fp32 = Path(tmp) / "model.onnx"
        int8 = Path(tmp) / "model.int8.onnx"
        torch.onnx.export(_Logits(model), (ids, bigrams, sounds, mask), str(fp32),
                          input_names=names,
                          output_names=["logits"], dynamic_axes={**axes, "logits": {0: "batch"}},
                          opset_version=17, dynamo=False)
        quiet = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # int64 hashing in the sound bag: not weights
        try:
            quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        finally:
            logging.getLogger().setLevel(quiet)
        proto = onnx.load(str(int8))
        unused = {n for n, b in (("bigram_ids", cfg.bigram_buckets),
                                 ("sound_ids", cfg.sound_buckets)) if not b}
        if unused:  # the graph keeps unused inputs: drop them
            keep = [i for i in proto.graph.input if i.name not in unused]
            del proto.graph.input[:]
            proto.graph.input.extend(keep)
        meta = {"format": FORMAT, "kind": kind, "labels": json.dumps(list(labels)),
                "vocab": json.dumps(list(vocab.tokens), ensure_ascii=False),
                "max_len": str(cfg.max_len), "bigram_buckets": str(cfg.bigram_buckets),
                "sound_buckets": str(cfg.sound_buckets),
                "info": json.dumps(info, ensure_ascii=False)}
        del proto.metadata_props[:]
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
        proto.producer_name = PRODUCER
        onnx.save(proto, str(path))
    log(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
