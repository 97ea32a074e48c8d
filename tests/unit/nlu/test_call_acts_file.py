"""The call-act model file: loaded once, and a bad file is one clear NluError."""

from __future__ import annotations

import json

import pytest

from tierline.nlu.call_acts import ACTS, FORMAT, CallActModel, features, load_call_acts
from tierline.nlu.errors import NluError


def tiny() -> CallActModel:
    return CallActModel(ACTS, (0.0, 0.0, 1.0), {"别再": (3.0, 0.0, 0.0), "开会": (0.0, 3.0, 0.0)},
                        {"opt_out": 0.5, "callback": 0.5}, {})


def test_reading_follows_the_weights_and_thresholds(tmp_path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(tiny().to_json(), ensure_ascii=False), encoding="utf-8")
    model = load_call_acts(path)
    assert model.read("别再打了").label == "opt_out"
    assert model.read("我在开会").label == "callback"
    assert model.read("价格多少").label == "other"
    assert abs(sum(model.probabilities("").values()) - 1) < 1e-9


def test_features_fold_digits_and_drop_punctuation() -> None:
    grams = features("3点，再打！")
    assert "0点" in grams and "^0点" in grams and not any("，" in g for g in grams)
    assert features("") == [] and features("！？") == []


@pytest.mark.parametrize("content", ["", "{", json.dumps({"format": "other"}),
                                     json.dumps({"format": FORMAT, "labels": ["a"]}),
                                     json.dumps({"format": FORMAT, "labels": list(ACTS),
                                                 "bias": [0, 0], "weights": {},
                                                 "thresholds": {}})])
def test_a_bad_file_is_one_clear_error(tmp_path, content) -> None:
    path = tmp_path / f"bad{abs(hash(content))}.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(NluError):
        load_call_acts(path)
    with pytest.raises(NluError, match="not found"):
        load_call_acts(tmp_path / "missing.json")
