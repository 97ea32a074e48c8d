"""The trained tier model at run time: an ONNX graph run by onnxruntime.

A model directory holds ``NAME.onnx`` (input ``features`` float32 [n, F], output ``logits``
float32 [n, 4]; feature standardisation is inside the graph) and ``NAME.json`` (version,
feature names, the columns the model reads, training facts and measured metrics). The shipped
models live next to this module; ``TIERLINE_TIER_MODEL`` points to another directory (for
example the output of ``tierline train tier``).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tierline.core.errors import TierlineError
from tierline.segmentation.records import TIERS
from tierline.segmentation.state import FEATURE_NAMES

PACKAGED_DIR = Path(__file__).resolve().parent
MODEL_ENV = "TIERLINE_TIER_MODEL"
MAIN = "tier_model"
TEXT_BLIND = "tier_textblind"


class TierModelError(TierlineError, ValueError):
    """A tier model file is missing, unreadable or does not match this code's features."""


@dataclass(frozen=True)
class TierModel:
    """One loaded tier model.

    Attributes:
        version: Model version string from its metadata.
        columns: Indices into the full feature vector that the model reads.
        meta: The metadata as loaded.
    """

    version: str
    columns: tuple[int, ...]
    meta: dict[str, Any]
    _session: Any

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Calibrated tier logits for a [n, F] batch (or one [F] vector) of feature vectors.

        The graph's raw logits are divided by :attr:`temperature`, so softmax probabilities
        match observed frequencies on held-out dialogs.
        """
        x = np.asarray(features, dtype=np.float32)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        if len(self.columns) != x.shape[1]:
            x = x[:, self.columns]
        out = self._session.run(None, {"features": np.ascontiguousarray(x)})[0]
        out = out / self.temperature
        return out[0] if single else out

    @property
    def temperature(self) -> float:
        """Calibration temperature fitted at training time (1.0 for older models)."""
        return float(self.meta.get("training", {}).get("temperature", 1.0))


def model_dir() -> Path:
    """Directory the tier models are loaded from (``$TIERLINE_TIER_MODEL`` or the package)."""
    env = os.environ.get(MODEL_ENV)
    return Path(env) if env else PACKAGED_DIR


_CACHE: dict[tuple[str, float], TierModel] = {}
_LOCK = threading.Lock()


def load_model(name: str = MAIN, directory: str | Path | None = None) -> TierModel:
    """Load (once per process and file version) a tier model.

    Raises:
        TierModelError: files missing or unreadable, or trained on other features.
    """
    base = Path(directory) if directory else model_dir()
    onnx_path, meta_path = base / f"{name}.onnx", base / f"{name}.json"
    try:
        key = (str(onnx_path), onnx_path.stat().st_mtime)
    except OSError:
        raise TierModelError(
            f"tier model not found: {onnx_path} (train one with `tierline train tier`)") from None
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise TierModelError(f"cannot read tier model metadata {meta_path}: {exc}") from None
        if tuple(meta.get("features", ())) != FEATURE_NAMES or tuple(
                meta.get("tiers", ())) != TIERS:
            raise TierModelError(
                f"{onnx_path} was trained on other features or tiers than this version of "
                "tierline computes; retrain it with `tierline train tier`")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(onnx_path), opts,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise TierModelError(f"cannot load tier model {onnx_path}: {exc}") from None
        columns = tuple(int(c) for c in meta.get("columns", range(len(FEATURE_NAMES))))
        model = TierModel(str(meta.get("version", "unknown")), columns, meta, session)
        _CACHE[key] = model
        return model
