"""The call-centre decoder adapter: low-rank updates of Whisper base's decoder.

Whisper base mishears the words a sales or service call turns on (坐席, 报价, 服务器, 质检,
钉钉) far more often than everyday Mandarin. ``tierline train asr`` fits a low-rank update
``B @ A`` to the decoder's attention and feed-forward matrices (LoRA; the encoder, embeddings
and layer norms stay as shipped) on phone-line renderings of the intent corpus's train split
mixed with general Mandarin text, and stores the factors in ``callcentre_adapter.npz`` (about
2 MB). :func:`merge_adapter` adds them to the float16 weights of Whisper base with numpy alone,
so run time needs neither torch nor the CTranslate2 converter.

File layout (``numpy.savez``): for each adapted matrix ``NAME`` (a CTranslate2 variable name
such as ``decoder/layer_0/ffn/linear_0/weight``) the arrays ``NAME|a`` (rank × inputs) and
``NAME|b`` (outputs × rank, the LoRA scale folded in), float16; ``meta`` holds a JSON string
with the base model's SHA-256 and the training settings.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tierline.dialects.ct2_weights import Ct2Weights
from tierline.dialects.errors import ModelError

ADAPTER_PATH = Path(__file__).with_name("callcentre_adapter.npz")
"""The shipped adapter."""


@dataclass(frozen=True)
class DecoderAdapter:
    """Low-rank factors for some decoder matrices.

    Attributes:
        factors: Variable name → (a, b); the update is ``b @ a``.
        meta: Base model checksum and training settings.
    """

    factors: dict[str, tuple[np.ndarray, np.ndarray]]
    meta: dict

    @property
    def base_sha256(self) -> str:
        """SHA-256 of the ``model.bin`` the factors were trained on."""
        return str(self.meta.get("base_sha256", ""))

    def save(self, path: Path) -> None:
        """Write the adapter (see the module docstring for the layout)."""
        arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(self.meta, sort_keys=True))}
        for name, (a, b) in sorted(self.factors.items()):
            arrays[f"{name}|a"] = a.astype(np.float16)
            arrays[f"{name}|b"] = b.astype(np.float16)
        with Path(path).open("wb") as fh:
            np.savez(fh, **arrays)


def load_adapter(path: Path = ADAPTER_PATH) -> DecoderAdapter:
    """Read an adapter file.

    Raises:
        ModelError: the file is missing, unreadable or its factors do not pair up.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"cannot read the ASR adapter {path}: {exc}") from None
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (KeyError, ValueError):
        raise ModelError(f"{path} is not a decoder adapter: no meta record") from None
    factors = {}
    for key in arrays:
        name, _, part = key.rpartition("|")
        if part != "a":
            continue
        a, b = arrays[key], arrays.get(f"{name}|b")
        if b is None or a.ndim != 2 or b.ndim != 2 or b.shape[1] != a.shape[0]:
            raise ModelError(f"{path}: the factors of {name} do not pair up")
        factors[name] = (a, b)
    if not factors or len(arrays) != 2 * len(factors):
        raise ModelError(f"{path} is not a decoder adapter: unpaired or no factors")
    return DecoderAdapter(factors, meta)


def merge_adapter(weights: Ct2Weights, adapter: DecoderAdapter) -> Ct2Weights:
    """Whisper weights with the adapter's updates added (a new object; ``weights`` is kept).

    The update is computed in float64 and rounded once to the variable's dtype, so the merged
    file does not depend on the CPU's BLAS kernels.

    Raises:
        ModelError: an adapted variable is missing or its shape does not match.
    """
    variables = dict(weights.variables)
    for name, (a, b) in adapter.factors.items():
        base = variables.get(name)
        if base is None or base.shape != (b.shape[0], a.shape[1]):
            raise ModelError(f"the ASR adapter does not fit this Whisper model ({name})")
        update = b.astype(np.float64) @ a.astype(np.float64)
        variables[name] = (base.astype(np.float64) + update).astype(base.dtype)
    return Ct2Weights(weights.version, weights.spec, weights.revision, variables,
                      list(weights.aliases))
