"""Audio decoding with bounded memory: probe, channel choice, resampling, 20 ms frames.

Files are read block by block (``block_s`` seconds at a time), so a two-hour recording
never sits in memory whole. WAV/FLAC/OGG/MP3 go through libsndfile (soundfile); raw
headerless G.711 is recognised by extension (.ul/.ulaw/.mu μ-law, .al/.alaw A-law,
8 kHz mono). Every bad input is reported as :class:`AudioError` with one clear line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from tierline.audio.errors import AudioError
from tierline.audio.g711 import alaw_decode, ulaw_decode, ulaw_encode
from tierline.audio.records import FRAME_MS, PIPELINE_RATE, Frame

MIN_RATE = 4_000
MAX_RATE = 192_000
TELEPHONE_RATE = 8_000
FRAME_SAMPLES = PIPELINE_RATE * FRAME_MS // 1000

_RAW_G711 = {
    ".ul": "ULAW",
    ".ulaw": "ULAW",
    ".mu": "ULAW",
    ".al": "ALAW",
    ".alaw": "ALAW",
}
_G711_DECODERS = {"ULAW": ulaw_decode, "ALAW": alaw_decode}

Channel = str | int


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`probe` learns about an audio file without decoding it.

    Attributes:
        path: The file.
        format: Container or raw codec name: "WAV", "FLAC", "OGG", "MP3", "ULAW", "ALAW", ...
        sample_rate: Native sample rate, Hz.
        channels: Number of channels.
        duration_s: Length in seconds (for WAV and raw G.711 what the file really holds;
            for compressed formats what the header says, until decoding shows otherwise).
        subtype: Sample encoding inside the container (e.g. "PCM_16", "ULAW"), if known.
        claimed_s: The length the header states, when it states one (a WAV data chunk, a
            FLAC stream header); longer than ``duration_s`` in a cut-off WAV.
    """

    path: Path
    format: str
    sample_rate: int
    channels: int
    duration_s: float
    subtype: str = ""
    claimed_s: float | None = None

    @property
    def cut(self) -> bool:
        """Whether the header promises more audio than the file holds (known at probe)."""
        return self.claimed_s is not None and self.claimed_s > self.duration_s + FRAME_MS / 1000

    @property
    def frames(self) -> int:
        """Number of samples per channel."""
        return round(self.duration_s * self.sample_rate)


# --------------------------------------------------------------------------- probing


def probe(path: str | Path) -> AudioInfo:
    """Inspect an audio file and validate that it can be decoded.

    Args:
        path: WAV, FLAC, OGG, MP3 (anything libsndfile reads) or raw G.711 file.

    Returns:
        The file's format, rate, channel count and duration.

    Raises:
        AudioError: Missing, empty, unrecognised file or unsupported sample rate.
    """
    path = Path(path)
    _check_file(path)
    raw = _RAW_G711.get(path.suffix.lower())
    if raw:
        size = path.stat().st_size
        info = AudioInfo(path, raw, TELEPHONE_RATE, 1, size / TELEPHONE_RATE, raw)
    else:
        info = _probe_soundfile(path)
    _check_info(info)
    return info


def _check_file(path: Path) -> None:
    """Fail early on files that are missing, not regular or empty."""
    if not path.exists():
        raise AudioError(f"audio file not found: {path}")
    if not path.is_file():
        raise AudioError(f"not a readable audio file: {path} (not a regular file)")
    if path.stat().st_size == 0:
        raise AudioError(f"audio file is empty: {path}")


def _probe_soundfile(path: Path) -> AudioInfo:
    """Read the header through libsndfile."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"not a readable audio file: {path} ({_reason(exc)})") from None
    duration = info.frames / info.samplerate if info.samplerate > 0 else 0.0
    claimed = _wav_claimed_s(path) if info.format == "WAV" else duration
    return AudioInfo(
        path=path,
        format=info.format,
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        duration_s=duration,
        subtype=info.subtype or "",
        claimed_s=claimed,
    )


def _wav_claimed_s(path: Path) -> float | None:
    """The length a RIFF/WAVE header claims (data chunk size / block size / rate), or None.

    libsndfile reports what the file really holds; the header may promise more (a recording
    cut off by a crash or a full disk). A streaming header (size 0 or 0xFFFFFFFF) claims
    nothing.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            rate = block = 0
            while chunk := fh.read(8):
                if len(chunk) < 8:
                    return None
                cid, size = chunk[:4], int.from_bytes(chunk[4:], "little")
                if cid == b"fmt ":
                    fmt = fh.read(size + (size & 1))
                    rate = int.from_bytes(fmt[4:8], "little")
                    block = int.from_bytes(fmt[12:14], "little")
                elif cid == b"data":
                    if not rate or not block or size in (0, 0xFFFFFFFF):
                        return None
                    return size / block / rate
                else:
                    fh.seek(size + (size & 1), 1)
    except OSError:
        return None
    return None


def _check_info(info: AudioInfo) -> None:
    """Reject headers describing no audio or absurd parameters."""
    if not MIN_RATE <= info.sample_rate <= MAX_RATE:
        raise AudioError(f"unsupported sample rate {info.sample_rate} Hz in {info.path}")
    if info.channels < 1:
        raise AudioError(f"not a readable audio file: {info.path} (no channels)")
    if info.frames <= 0:
        raise AudioError(f"audio file is empty: {info.path} (no audio samples)")


def _reason(exc: BaseException) -> str:
    """Short libsndfile reason without the repeated file name."""
    text = getattr(exc, "error_string", None) or str(exc) or type(exc).__name__
    return text.strip().rstrip(".")


# --------------------------------------------------------------------------- channels


def select_channel(info: AudioInfo, channel: Channel = "caller", caller_channel: int = 1) -> int:
    """Resolve a channel choice to a channel index of the file.

    Stereo call recordings carry the agent on channel 0 and the caller on
    ``caller_channel`` (1 by default); a mono file's only channel is the caller.

    Args:
        info: The probed file.
        channel: "caller", "agent" or a channel index.
        caller_channel: Index of the caller in multi-channel recordings.

    Returns:
        Index of the channel to decode.

    Raises:
        AudioError: Unknown choice, index out of range, or "agent" in a mono or
            more-than-stereo file.
    """
    if isinstance(channel, bool) or not isinstance(channel, (str, int)):
        raise _bad_channel(info, channel)
    if isinstance(channel, int):
        return _checked_index(info, channel, "channel")
    if channel == "caller":
        return 0 if info.channels == 1 else _checked_index(info, caller_channel, "caller channel")
    if channel == "agent":
        if info.channels == 1:
            raise AudioError(f"no agent channel in mono file {info.path}")
        if info.channels > 2:
            raise AudioError(
                f"agent channel is ambiguous in {info.channels}-channel file {info.path}; "
                "pass a channel index"
            )
        return 1 - _checked_index(info, caller_channel, "caller channel")
    raise _bad_channel(info, channel)


def _bad_channel(info: AudioInfo, channel: object) -> AudioError:
    """Error for a channel choice that is neither a role nor an index."""
    return AudioError(
        f"channel must be 'caller', 'agent' or an index, not {channel!r} (file {info.path})"
    )


def _checked_index(info: AudioInfo, index: int, what: str) -> int:
    """Validate a channel index against the file's channel count."""
    if not 0 <= index < info.channels:
        raise AudioError(
            f"{what} {index} out of range: {info.path} has {info.channels} channel(s)"
        )
    return index


# --------------------------------------------------------------------------- reading


def _native_blocks(info: AudioInfo, index: int, block_frames: int) -> Iterator[np.ndarray]:
    """Iterate float32 mono blocks of one channel at the native rate."""
    if info.path.suffix.lower() in _RAW_G711:
        return _raw_g711_blocks(info, block_frames)
    return _soundfile_blocks(info, index, block_frames)


def _raw_g711_blocks(info: AudioInfo, block_frames: int) -> Iterator[np.ndarray]:
    """Decode a headerless G.711 file in byte chunks."""
    decode = _G711_DECODERS[info.format]
    try:
        with open(info.path, "rb") as fh:
            while chunk := fh.read(block_frames):
                yield decode(chunk).astype(np.float32) / 32768.0
    except OSError as exc:
        raise AudioError(f"not a readable audio file: {info.path} ({exc.strerror})") from None


def _soundfile_blocks(info: AudioInfo, index: int, block_frames: int) -> Iterator[np.ndarray]:
    """Decode a libsndfile-supported file block by block."""
    try:
        with sf.SoundFile(str(info.path)) as fh:
            while True:
                block = fh.read(block_frames, dtype="float32", always_2d=True)
                if not len(block):
                    return
                yield np.ascontiguousarray(block[:, index])
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"not a readable audio file: {info.path} ({_reason(exc)})") from None


def _pipeline_blocks(
    path: str | Path, channel: Channel, caller_channel: int, block_s: float
) -> Iterator[np.ndarray]:
    """Yield float32 16 kHz mono blocks of the chosen channel, resampled as a stream."""
    if not block_s > 0:
        raise AudioError(f"block_s must be positive, not {block_s}")
    info = probe(path)
    index = select_channel(info, channel, caller_channel)
    block_frames = max(1, int(block_s * info.sample_rate))
    blocks = _native_blocks(info, index, block_frames)
    if info.sample_rate == PIPELINE_RATE:
        yield from blocks
        return
    stream = soxr.ResampleStream(info.sample_rate, PIPELINE_RATE, 1, dtype="float32", quality="HQ")
    for block in blocks:
        out = stream.resample_chunk(block)
        if len(out):
            yield out
    tail = stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
    if len(tail):
        yield tail


def _to_int16(x: np.ndarray) -> np.ndarray:
    """Convert float samples in [-1, 1] to int16 with clipping."""
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def iter_frames(
    path: str | Path,
    channel: Channel = "caller",
    caller_channel: int = 1,
    block_s: float = 10.0,
) -> Iterator[Frame]:
    """Stream a file as consecutive 20 ms frames of 16 kHz int16 audio.

    Memory stays bounded by ``block_s``. The last partial frame is zero-padded.

    Args:
        path: Audio file (see :func:`probe`).
        channel: "caller", "agent" or a channel index.
        caller_channel: Index of the caller in multi-channel recordings.
        block_s: Seconds of audio decoded per read.

    Yields:
        Frames of 320 int16 samples with ``start_s`` on the call timeline.

    Raises:
        AudioError: Bad file or channel choice (raised on the first ``next()``).
    """
    pending = np.zeros(0, dtype=np.float32)
    count = 0
    for block in _pipeline_blocks(path, channel, caller_channel, block_s):
        pending = np.concatenate([pending, block]) if len(pending) else block
        whole = len(pending) // FRAME_SAMPLES * FRAME_SAMPLES
        pcm = _to_int16(pending[:whole])
        for offset in range(0, whole, FRAME_SAMPLES):
            yield Frame(pcm[offset : offset + FRAME_SAMPLES].copy(), count * FRAME_MS / 1000)
            count += 1
        pending = pending[whole:].copy()
    if len(pending):
        pcm = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        pcm[: len(pending)] = _to_int16(pending)
        yield Frame(pcm, count * FRAME_MS / 1000)


def load_audio(
    path: str | Path, channel: Channel = "caller", caller_channel: int = 1
) -> np.ndarray:
    """Decode a whole (short) file to float32 16 kHz mono.

    Args:
        path: Audio file (see :func:`probe`).
        channel: "caller", "agent" or a channel index.
        caller_channel: Index of the caller in multi-channel recordings.

    Returns:
        float32 samples in [-1, 1] at 16 kHz.

    Raises:
        AudioError: Bad file or channel choice.
    """
    blocks = list(_pipeline_blocks(path, channel, caller_channel, block_s=10.0))
    if not blocks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(blocks).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- helpers


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample a mono signal with soxr (HQ).

    Args:
        x: Samples (any float or int dtype; ints are taken as-is, not rescaled).
        from_rate: Rate of ``x``, Hz.
        to_rate: Wanted rate, Hz.

    Returns:
        float32 samples at ``to_rate``.

    Raises:
        AudioError: A rate outside 4000..192000 Hz.
    """
    for rate in (from_rate, to_rate):
        if not MIN_RATE <= rate <= MAX_RATE:
            raise AudioError(f"unsupported sample rate {rate} Hz")
    x = np.asarray(x, dtype=np.float32)
    if from_rate == to_rate or not len(x):
        return x.copy()
    return soxr.resample(x, from_rate, to_rate, quality="HQ").astype(np.float32, copy=False)


def telephone_round_trip(x16k: np.ndarray) -> np.ndarray:
    """Degrade 16 kHz audio to telephone quality and back.

    16 kHz → 8 kHz → μ-law encode/decode → 16 kHz, as audio arrives over a PSTN/SIP
    G.711 leg.

    Args:
        x16k: float32 samples in [-1, 1] at 16 kHz.

    Returns:
        float32 samples at 16 kHz, same length as the input.
    """
    narrow = resample(x16k, PIPELINE_RATE, TELEPHONE_RATE)
    coded = ulaw_decode(ulaw_encode(_to_int16(narrow))).astype(np.float32) / 32768.0
    wide = resample(coded, TELEPHONE_RATE, PIPELINE_RATE)
    out = np.zeros(len(x16k), dtype=np.float32)
    n = min(len(out), len(wide))
    out[:n] = wide[:n]
    return out
