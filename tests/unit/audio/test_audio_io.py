"""Tests for tierline.audio.g711 and tierline.audio.io (decoding, channels, frames, errors)."""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tierline.audio.errors import AudioError
from tierline.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from tierline.audio.io import (
    AudioInfo,
    iter_frames,
    load_audio,
    probe,
    resample,
    telephone_round_trip,
)
from tierline.audio.records import PIPELINE_RATE

ALL_PCM = np.arange(-32768, 32768, dtype=np.int16)


def tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    """A float32 sine tone."""
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_hz(x: np.ndarray, rate: int = PIPELINE_RATE) -> float:
    """Frequency of the strongest spectral peak."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def wav_header(rate: int, channels: int = 1, data_bytes: int = 0) -> bytes:
    """A canonical 44-byte PCM_16 WAV header."""
    block = channels * 2
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, 16)
        + b"data" + struct.pack("<I", data_bytes)
    )


# --------------------------------------------------------------------------- G.711


class TestG711:
    def test_polarity_of_silence(self):
        zero = np.zeros(4, dtype=np.int16)
        assert ulaw_encode(zero).tolist() == [0xFF] * 4
        assert alaw_encode(zero).tolist() == [0xD5] * 4

    def test_known_decode_values(self):
        assert ulaw_decode(bytes([0x00, 0x80, 0x7F, 0xFF])).tolist() == [-32124, 32124, 0, 0]
        assert alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A])).tolist() == [8, -8, 32256, -32256]

    def test_known_encode_values(self):
        pcm = np.array([32767, -32768, 1000], dtype=np.int16)
        assert ulaw_encode(pcm).tolist() == [0x80, 0x00, 0xCE]
        assert alaw_encode(pcm).tolist() == [0xAA, 0x2A, 0xFA]

    def test_tables_match_reference_implementation(self):
        # Digests of the full encode tables produced by the Sun g711.c reference
        # (CPython audioop.lin2ulaw / lin2alaw) over every int16 value.
        assert hashlib.sha256(ulaw_encode(ALL_PCM).tobytes()).hexdigest() == (
            "81d633c9e6972a18c74a58720b96cb8ca0bdd096d4060b646dd708c3b846019a"
        )
        assert hashlib.sha256(alaw_encode(ALL_PCM).tobytes()).hexdigest() == (
            "38488f6fd710f4686360edc4d38639f96c491595ef93f8eb8d62d5e07ca6ce7b"
        )

    @pytest.mark.parametrize(
        "encode, decode, max_rel",
        [(ulaw_encode, ulaw_decode, 0.06), (alaw_encode, alaw_decode, 0.04)],
    )
    def test_round_trip_error_small(self, encode, decode, max_rel):
        codes = encode(ALL_PCM)
        assert codes.dtype == np.uint8 and len(codes) == len(ALL_PCM)
        pcm = ALL_PCM.astype(np.int64)
        err = np.abs(decode(codes).astype(np.int64) - pcm)
        loud = np.abs(pcm) > 256
        assert err.max() <= 1024
        assert err[~loud].max() <= 16
        assert (err[loud] / np.abs(pcm[loud])).max() < max_rel
        # decode -> encode -> decode is the identity on codes' values
        every = np.arange(256, dtype=np.uint8)
        assert np.array_equal(decode(encode(decode(every))), decode(every))

    def test_bytes_and_array_inputs_agree(self):
        data = bytes(range(256))
        assert np.array_equal(ulaw_decode(data), ulaw_decode(np.frombuffer(data, np.uint8)))
        assert alaw_decode(bytearray(data)).dtype == np.int16

    def test_rejects_float_pcm(self):
        with pytest.raises(TypeError):
            ulaw_encode(np.zeros(3, dtype=np.float32))


# --------------------------------------------------------------------------- reading formats


@pytest.fixture
def stereo_flac(tmp_path: Path) -> Path:
    """44.1 kHz stereo: agent (ch 0) silent, caller (ch 1) a 440 Hz tone."""
    path = tmp_path / "call.flac"
    caller = tone(440, 1.5, 44_100)
    sf.write(path, np.stack([np.zeros_like(caller), caller], axis=1), 44_100, subtype="PCM_16")
    return path


def test_wav_ulaw_8k(tmp_path: Path):
    path = tmp_path / "mu.wav"
    sf.write(path, tone(440, 1.0, 8000), 8000, subtype="ULAW")
    info = probe(path)
    assert (info.format, info.subtype, info.sample_rate, info.channels) == ("WAV", "ULAW", 8000, 1)
    assert info.duration_s == pytest.approx(1.0)
    x = load_audio(path)
    assert x.dtype == np.float32
    assert len(x) == pytest.approx(PIPELINE_RATE, abs=2)
    assert dominant_hz(x) == pytest.approx(440, abs=2)


def test_wav_pcm16_16k_is_bit_exact(tmp_path: Path):
    path = tmp_path / "pcm.wav"
    pcm = (tone(300, 0.5, PIPELINE_RATE) * 32767).astype(np.int16)
    sf.write(path, pcm, PIPELINE_RATE, subtype="PCM_16")
    frames = list(iter_frames(path))
    assert np.array_equal(np.concatenate([f.pcm for f in frames])[: len(pcm)], pcm)


def test_stereo_flac_channel_choice(stereo_flac: Path):
    info = probe(stereo_flac)
    assert (info.format, info.sample_rate, info.channels) == ("FLAC", 44_100, 2)
    caller = load_audio(stereo_flac)
    assert rms(caller) > 0.3
    assert dominant_hz(caller) == pytest.approx(440, abs=2)
    assert rms(load_audio(stereo_flac, channel="agent")) < 1e-4
    assert rms(load_audio(stereo_flac, channel=0)) < 1e-4
    assert rms(load_audio(stereo_flac, channel=1)) > 0.3
    # caller_channel=0 swaps the roles
    assert rms(load_audio(stereo_flac, caller_channel=0)) < 1e-4
    assert rms(load_audio(stereo_flac, channel="agent", caller_channel=0)) > 0.3


def test_multichannel_uses_caller_channel_or_index(tmp_path: Path):
    path = tmp_path / "four.wav"
    data = np.zeros((8000, 4), dtype=np.float32)
    data[:, 2] = tone(500, 1.0, 8000)
    sf.write(path, data, 8000)
    assert rms(load_audio(path, caller_channel=2)) > 0.3
    assert rms(load_audio(path, channel=2)) > 0.3
    with pytest.raises(AudioError, match="ambiguous"):
        load_audio(path, channel="agent")


def _write_mp3(path: Path, x: np.ndarray, rate: int) -> bool:
    """Write an MP3 with libsndfile, else ffmpeg; False if neither can."""
    try:
        sf.write(path, x, rate, format="MP3")
        return True
    except (sf.LibsndfileError, TypeError, ValueError):
        pass
    if not shutil.which("ffmpeg"):
        return False
    wav = path.with_suffix(".wav")
    sf.write(wav, x, rate)
    done = subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), str(path)], check=False)
    return done.returncode == 0


def test_mp3(tmp_path: Path):
    path = tmp_path / "clip.mp3"
    if not _write_mp3(path, tone(440, 1.0, 22_050), 22_050):
        pytest.skip("no MP3 encoder available")
    info = probe(path)
    assert (info.format, info.sample_rate, info.channels) == ("MP3", 22_050, 1)
    x = load_audio(path)
    assert abs(len(x) / PIPELINE_RATE - 1.0) < 0.1
    assert dominant_hz(x) == pytest.approx(440, abs=3)


def test_ogg(tmp_path: Path):
    path = tmp_path / "clip.ogg"
    sf.write(path, tone(440, 1.0, 48_000), 48_000, format="OGG", subtype="VORBIS")
    assert probe(path).format == "OGG"
    assert dominant_hz(load_audio(path)) == pytest.approx(440, abs=2)


@pytest.mark.parametrize(
    "suffix, encode, fmt",
    [(".ul", ulaw_encode, "ULAW"), (".ulaw", ulaw_encode, "ULAW"),
     (".al", alaw_encode, "ALAW"), (".alaw", alaw_encode, "ALAW")],
)
def test_raw_g711(tmp_path: Path, suffix, encode, fmt):
    path = tmp_path / f"call{suffix}"
    pcm = (tone(440, 1.0, 8000) * 32767).astype(np.int16)
    path.write_bytes(encode(pcm).tobytes())
    assert probe(path) == AudioInfo(path, fmt, 8000, 1, 1.0, fmt)
    x = load_audio(path)
    assert len(x) == pytest.approx(PIPELINE_RATE, abs=2)
    assert dominant_hz(x) == pytest.approx(440, abs=2)
    assert rms(x) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


# --------------------------------------------------------------------------- framing


@pytest.mark.parametrize("rate, seconds", [(8000, 1.234), (44_100, 0.777), (16_000, 0.5)])
def test_frames_are_consecutive_and_cover_the_file(tmp_path: Path, rate, seconds):
    path = tmp_path / "x.wav"
    sf.write(path, tone(700, seconds, rate), rate)
    frames = list(iter_frames(path, block_s=0.25))
    assert all(f.pcm.dtype == np.int16 and f.pcm.shape == (320,) for f in frames)
    starts = [f.start_s for f in frames]
    assert starts[0] == 0.0
    assert np.allclose(np.diff(starts), 0.02)
    assert abs(frames[-1].end_s - seconds) <= 0.02 + 1e-9


def test_block_size_does_not_change_the_output(tmp_path: Path):
    path = tmp_path / "x.wav"
    sf.write(path, tone(1000, 2.0, 8000) + tone(2900, 2.0, 8000, 0.2), 8000)
    small = np.concatenate([f.pcm for f in iter_frames(path, block_s=0.137)]).astype(int)
    big = np.concatenate([f.pcm for f in iter_frames(path, block_s=60)]).astype(int)
    assert len(small) == len(big)
    assert np.abs(small - big).max() <= 2


def test_bounded_memory_on_long_file(tmp_path: Path):
    path = tmp_path / "long.wav"
    rate, minutes = 8000, 10
    chunk = (tone(440, 60.0, rate, 0.3) * 32767).astype(np.int16)
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as fh:
        for _ in range(minutes):
            fh.write(chunk)
    decoded_bytes = minutes * 60 * PIPELINE_RATE * 2  # whole call as 16 kHz int16
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_frames(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == minutes * 60 * 50
    assert peak < decoded_bytes / 4


# --------------------------------------------------------------------------- helpers


def test_resample_helper():
    x = tone(1000, 1.0, 8000)
    y = resample(x, 8000, 16_000)
    assert y.dtype == np.float32 and len(y) == 16_000
    assert dominant_hz(y) == pytest.approx(1000, abs=2)
    assert np.array_equal(resample(x, 8000, 8000), x)
    with pytest.raises(AudioError, match="sample rate"):
        resample(x, 8000, 1)


def test_telephone_round_trip():
    speech_band = tone(1000, 1.0, PIPELINE_RATE)
    out = telephone_round_trip(speech_band)
    assert out.dtype == np.float32 and len(out) == len(speech_band)
    middle = slice(1000, -1000)
    assert np.corrcoef(out[middle], speech_band[middle])[0, 1] > 0.99
    above_nyquist = telephone_round_trip(tone(6000, 1.0, PIPELINE_RATE))
    assert rms(above_nyquist[middle]) < 0.01


# --------------------------------------------------------------------------- bad input


def _assert_audio_error(path: Path, match: str, **kwargs) -> None:
    """Both probe-based entry points fail with one clear line naming the file."""
    with pytest.raises(AudioError, match=match) as caught:
        list(iter_frames(path, **kwargs))
    message = str(caught.value)
    assert "\n" not in message and str(path) in message


def test_missing_file(tmp_path: Path):
    _assert_audio_error(tmp_path / "nope.wav", "audio file not found")
    with pytest.raises(AudioError, match="not found"):
        probe(tmp_path / "nope.ul")


def test_directory(tmp_path: Path):
    _assert_audio_error(tmp_path, "not a readable audio file")


def test_text_file_renamed_wav(tmp_path: Path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 20)
    _assert_audio_error(path, "not a readable audio file")


@pytest.mark.parametrize("name", ["empty.wav", "empty.ul", "empty.flac"])
def test_zero_byte_file(tmp_path: Path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    _assert_audio_error(path, "audio file is empty")


def test_header_only_wav(tmp_path: Path):
    path = tmp_path / "header.wav"
    path.write_bytes(wav_header(16_000))
    _assert_audio_error(path, "empty")
    written = tmp_path / "written.wav"
    sf.write(written, np.zeros(0, dtype=np.float32), 16_000)
    _assert_audio_error(written, "empty")


def test_truncated_wav_is_known_as_cut_and_decodes_what_is_there(tmp_path: Path):
    full = tmp_path / "full.wav"
    sf.write(full, tone(440, 1.0, 16_000), 16_000, subtype="PCM_16")
    path = tmp_path / "cut.wav"
    path.write_bytes(full.read_bytes()[: 44 + 16_000])  # header claims 1 s, holds 0.5 s
    info = probe(path)
    assert info.claimed_s == pytest.approx(1.0) and info.duration_s == pytest.approx(0.5)
    assert info.cut and not probe(full).cut
    assert len(load_audio(path)) == 8_000


def test_truncated_inside_header(tmp_path: Path):
    path = tmp_path / "stub.wav"
    path.write_bytes(wav_header(16_000, data_bytes=32_000)[:20])
    _assert_audio_error(path, "not a readable audio file")


@pytest.mark.parametrize("rate", [1, 1_000_000])
def test_absurd_sample_rate(tmp_path: Path, rate):
    path = tmp_path / f"rate{rate}.wav"
    pcm = np.zeros(1600, dtype=np.int16).tobytes()
    path.write_bytes(wav_header(rate, data_bytes=len(pcm)) + pcm)
    _assert_audio_error(path, "sample rate|not a readable")
    with pytest.raises(AudioError, match=f"unsupported sample rate {rate} Hz|not a readable"):
        probe(path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"channel": 2}, "channel 2 out of range"),
        ({"channel": -1}, "out of range"),
        ({"caller_channel": 5}, "caller channel 5 out of range"),
        ({"channel": "boss"}, "channel must be"),
    ],
)
def test_channel_out_of_range(stereo_flac: Path, kwargs, match):
    _assert_audio_error(stereo_flac, match, **kwargs)


def test_agent_on_mono(tmp_path: Path):
    path = tmp_path / "mono.wav"
    sf.write(path, tone(440, 0.2, 8000), 8000)
    _assert_audio_error(path, "no agent channel", channel="agent")
    assert len(load_audio(path, channel=0)) > 0


def test_audio_error_is_value_error():
    assert issubclass(AudioError, ValueError)
