"""ITU-T G.711 μ-law and A-law codecs, vectorised with lookup tables.

Encoders map int16 PCM to one byte per sample (np.uint8); decoders map bytes back to
int16. Polarity is the standard one used on the wire: silence encodes to 0xFF in μ-law
and 0xD5 in A-law.
"""

from __future__ import annotations

import numpy as np

_ULAW_BIAS = 0x84  # bias of the 16-bit decoder
_ULAW_CLIP = 8159  # the encoder works on 14-bit magnitudes
_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])

ByteLike = bytes | bytearray | memoryview | np.ndarray


def _build_ulaw_encode() -> np.ndarray:
    """Table indexed by ``pcm + 32768`` giving the μ-law byte (Sun g711.c on 14 bits)."""
    pcm = np.arange(-32768, 32768, dtype=np.int64) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = np.searchsorted(_ULAW_SEG_END, magnitude, side="left")
    uval = (np.minimum(seg, 7) << 4) | ((magnitude >> (seg + 1)) & 0x0F)
    uval = np.where(seg >= 8, 0x7F, uval)
    return (uval ^ mask).astype(np.uint8)


def _build_ulaw_decode() -> np.ndarray:
    """Table indexed by the μ-law byte giving int16 PCM."""
    code = ~np.arange(256, dtype=np.int64) & 0xFF
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _build_alaw_encode() -> np.ndarray:
    """Table indexed by ``pcm + 32768`` giving the A-law byte."""
    pcm = np.arange(-32768, 32768, dtype=np.int64) >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    seg = np.searchsorted(_ALAW_SEG_END, magnitude, side="left")
    shift = np.where(seg < 2, 1, seg)
    aval = (np.minimum(seg, 7) << 4) | ((magnitude >> shift) & 0x0F)
    aval = np.where(seg >= 8, 0x7F, aval)
    return (aval ^ mask).astype(np.uint8)


def _build_alaw_decode() -> np.ndarray:
    """Table indexed by the A-law byte giving int16 PCM."""
    code = np.arange(256, dtype=np.int64) ^ 0x55
    seg = (code & 0x70) >> 4
    t = ((code & 0x0F) << 4) + np.where(seg == 0, 8, 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(code & 0x80, t, -t).astype(np.int16)


_ULAW_ENC = _build_ulaw_encode()
_ULAW_DEC = _build_ulaw_decode()
_ALAW_ENC = _build_alaw_encode()
_ALAW_DEC = _build_alaw_decode()


def _as_codes(data: ByteLike) -> np.ndarray:
    """View bytes-like input as a uint8 array without copying."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise TypeError(f"G.711 codes must be uint8, not {data.dtype}")
        return data
    return np.frombuffer(data, dtype=np.uint8)


def _as_index(pcm: np.ndarray) -> np.ndarray:
    """Turn int16 PCM into indices of the encode tables."""
    pcm = np.asarray(pcm)
    if pcm.dtype != np.int16:
        raise TypeError(f"G.711 encoders take int16 PCM, not {pcm.dtype}")
    return pcm.astype(np.int32) + 32768


def ulaw_decode(data: ByteLike) -> np.ndarray:
    """Decode μ-law bytes to int16 PCM.

    Args:
        data: μ-law codes as bytes or a uint8 array.

    Returns:
        int16 samples, one per input byte.
    """
    return _ULAW_DEC[_as_codes(data)]


def ulaw_encode(pcm: np.ndarray) -> np.ndarray:
    """Encode int16 PCM to μ-law codes.

    Args:
        pcm: int16 samples.

    Returns:
        uint8 codes, one per sample (``.tobytes()`` gives the wire format).
    """
    return _ULAW_ENC[_as_index(pcm)]


def alaw_decode(data: ByteLike) -> np.ndarray:
    """Decode A-law bytes to int16 PCM.

    Args:
        data: A-law codes as bytes or a uint8 array.

    Returns:
        int16 samples, one per input byte.
    """
    return _ALAW_DEC[_as_codes(data)]


def alaw_encode(pcm: np.ndarray) -> np.ndarray:
    """Encode int16 PCM to A-law codes.

    Args:
        pcm: int16 samples.

    Returns:
        uint8 codes, one per sample (``.tobytes()`` gives the wire format).
    """
    return _ALAW_ENC[_as_index(pcm)]
