"""TierScorer with a scripted model (hysteresis) and the checks on tier-model files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import paths

from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.model import TierModel, TierModelError, load_model
from tierline.segmentation.outcome_layer import Adapter
from tierline.segmentation.records import TurnEvidence
from tierline.segmentation.state import FEATURE_NAMES
from tierline.segmentation.tier import TierScorer


def scorer(customer: CustomerProfile | None = None, model=None) -> TierScorer:
    return TierScorer(customer or CustomerProfile(), model, Adapter(), llm=False)


class _FakeSession:
    """onnxruntime stand-in: returns scripted logits, one row per input row."""

    def __init__(self, script: list[list[float]]) -> None:
        self.script, self.calls = script, 0

    def run(self, _outputs, feeds):
        row = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return [np.tile(np.array(row, np.float32), (len(feeds["features"]), 1))]


def fake_model(script: list[list[float]]) -> TierModel:
    return TierModel("fake", tuple(range(len(FEATURE_NAMES))), {}, _FakeSession(script))


def test_hysteresis_keeps_label_on_one_ambiguous_turn():
    # medium, then a turn where low only just leads, then a clear low
    model = fake_model([[0, 2, 0, 0], [0, 2, 0, 0], [0, 1.0, 1.2, 0], [0, 0, 3, 0]])
    s = scorer(model=model)
    labels = [s.initial().label] + [s.update(TurnEvidence({"other": 1.0})).label
                                    for _ in range(3)]
    assert labels == ["medium", "medium", "medium", "low"]


def test_model_files_must_match_features(tmp_path):
    meta = json.loads((paths.ROOT / "segmentation" / "tier_model.json")
                      .read_text(encoding="utf-8"))
    meta["features"] = meta["features"][:-1]
    (tmp_path / "tier_model.json").write_text(json.dumps(meta), encoding="utf-8")
    (tmp_path / "tier_model.onnx").write_bytes(b"not onnx")
    with pytest.raises(TierModelError, match="retrain"):
        load_model(directory=tmp_path)
    with pytest.raises(TierModelError, match="not found"):
        load_model(directory=tmp_path / "missing")
