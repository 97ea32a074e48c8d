"""Read and write a CTranslate2 ``model.bin`` as named numpy arrays.

The layout is the one ``ctranslate2.specs.ModelSpec`` writes (binary version 6): the spec
name and revision, then each variable as name, shape, dtype and raw bytes, then aliases
(Whisper's output projection is an alias of its token embeddings). Reading and writing an
unchanged model gives the same bytes, so the call-centre decoder adapter can be merged into
Whisper base with numpy alone, without torch or the converter at run time.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tierline.dialects.errors import ModelError

_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
"""Type ids in the order of CTranslate2's DataType enum (bfloat16 is not read here)."""


@dataclass
class Ct2Weights:
    """The variables of one CTranslate2 model file.

    Attributes:
        version: Binary format version.
        spec: Spec name (``WhisperSpec``).
        revision: Spec revision.
        variables: Name → array, in file order.
        aliases: (alias, variable name) pairs.
    """

    version: int
    spec: str
    revision: int
    variables: dict[str, np.ndarray]
    aliases: list[tuple[str, str]]


def read_ct2(path: Path) -> Ct2Weights:
    """Read a CTranslate2 model file.

    Raises:
        ModelError: the file is missing, truncated or not a CTranslate2 model.
    """
    try:
        buf = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
    pos = 0

    def take(fmt: str) -> tuple:
        nonlocal pos
        values = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return values

    def string() -> str:
        nonlocal pos
        (n,) = take("H")
        text = buf[pos:pos + n - 1].decode("utf-8")
        pos += n
        return text

    try:
        (version,) = take("I")
        spec = string()
        (revision,) = take("I")
        (count,) = take("I")
        variables: dict[str, np.ndarray] = {}
        for _ in range(count):
            name = string()
            (rank,) = take("B")
            shape = take("I" * rank) if rank else ()
            (type_id,) = take("B")
            (nbytes,) = take("I")
            dtype = np.dtype(_DTYPES[type_id])
            if type_id == _DTYPES.index("bfloat16") or pos + nbytes > len(buf):
                raise ValueError(name)
            array = np.frombuffer(buf, dtype=dtype, count=nbytes // dtype.itemsize, offset=pos)
            variables[name] = array.reshape(shape)
            pos += nbytes
        (n_aliases,) = take("I")
        aliases = [(string(), string()) for _ in range(n_aliases)]
    except (struct.error, ValueError, IndexError, UnicodeDecodeError):
        raise ModelError(f"{path} is not a readable CTranslate2 model file") from None
    if pos != len(buf):
        raise ModelError(f"{path} has {len(buf) - pos} unexpected bytes after its variables")
    return Ct2Weights(version, spec, revision, variables, aliases)


def write_ct2(weights: Ct2Weights, path: Path) -> None:
    """Write ``weights`` in the layout :func:`read_ct2` reads."""

    def pack(fmt: str, *values: int) -> bytes:
        return struct.pack(fmt, *values)

    def string(text: str) -> bytes:
        raw = text.encode("utf-8")
        return pack("H", len(raw) + 1) + raw + b"\0"

    with Path(path).open("wb") as fh:
        fh.write(pack("I", weights.version) + string(weights.spec) + pack("I", weights.revision))
        fh.write(pack("I", len(weights.variables)))
        for name, array in weights.variables.items():
            raw = np.ascontiguousarray(array).tobytes()
            fh.write(string(name) + pack("B", array.ndim) + pack("I" * array.ndim, *array.shape))
            fh.write(pack("B", _DTYPES.index(array.dtype.name)) + pack("I", len(raw)) + raw)
        fh.write(pack("I", len(weights.aliases)))
        for alias, name in weights.aliases:
            fh.write(string(alias) + string(name))
