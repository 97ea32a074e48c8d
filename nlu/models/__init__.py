"""Shipped NLU model files (ONNX, INT8), produced by ``tierline train nlu``.

Each file is self-describing: its ONNX metadata holds the kind (``intent`` or
``sentiment``), the output labels, the character vocabulary, the maximum length and how it
was trained (see :mod:`tierline.nlu.onnx_models`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["INTENT_MODEL", "MODELS_DIR", "SENTIMENT_MODEL"]

MODELS_DIR = Path(__file__).resolve().parent
INTENT_MODEL = MODELS_DIR / "intent.int8.onnx"
SENTIMENT_MODEL = MODELS_DIR / "sentiment.int8.onnx"
