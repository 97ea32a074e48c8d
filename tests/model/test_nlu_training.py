"""`tierline train nlu --smoke`: data assembly, training (torch), ONNX export and INT8."""

from __future__ import annotations

import subprocess
import sys

from helpers import require

from tierline.nlu.onnx_models import OnnxIntentClassifier, OnnxSentiment


def _tierline(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tierline.agent.cli", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_train_nlu_smoke_writes_loadable_models(tmp_path, shared_data) -> None:
    """A tiny training run (seconds) exercises data assembly, training, export and INT8."""
    require.module("torch", extra="train")
    out = _tierline("train", "nlu", "--smoke", "--threads", "1", "--out", str(tmp_path),
                    "--data", str(shared_data), timeout=170)
    assert out.returncode == 0, out.stderr[-2000:]
    intents = OnnxIntentClassifier(tmp_path / "intent.int8.onnx")
    probs = intents.classify("你们多少钱")
    assert abs(sum(probs.values()) - 1) < 1e-4
    assert intents.model.info["seed"] == 13
    assert -1 <= OnnxSentiment(tmp_path / "sentiment.int8.onnx").score("很好") <= 1
