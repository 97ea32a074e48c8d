"""A site's dialect training folder: bad rows are skipped and counted, never fatal; a folder
that cannot be used raises DatasetError (the command line's exit code 2:
tests/model/test_dialect_training_cli.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.voice_audio import write_tone_wav

from tierline.audio.io import load_audio
from tierline.dialects.training.dialect_folder import (
    DatasetError,
    read_folder,
    split_speakers,
    spoken_chars,
)
from tierline.dialects.training.line_augment import RECIPES, augment

_wav = write_tone_wav


def _folder(tmp_path: Path, rows: list[str], header: str = "path\ttranscript\tspeaker") -> Path:
    (tmp_path / "transcripts.tsv").write_text("\n".join([header, *rows]) + "\n",
                                              encoding="utf-8")
    return tmp_path


def test_every_kind_of_bad_row_is_skipped_and_counted(tmp_path):
    audio = tmp_path / "audio"
    for i in range(3):
        _wav(audio / f"ok{i}.wav", 2.0, i)
    _wav(audio / "long.wav", 31.0)
    _wav(audio / "shifted.wav", 3.0)
    _wav(audio / "orphan.wav", 1.0)  # no row names it
    (audio / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    folder = _folder(tmp_path, [
        "audio/ok0.wav\t佢係我嘅朋友\tA",
        "audio/ok1.wav\t今日好热啊\tB",
        "audio/ok2.wav\t唔该晒\tB",
        "audio/missing.wav\t有冇人\tC",
        "audio/ok0.wav\t\tA",                       # no transcript
        "audio/broken.wav\t坏咗\tD",
        "audio/long.wav\t太长\tE",
        "audio/shifted.wav\t" + "一" * 60 + "\tF",    # 20 characters a second: misaligned
        "audio/ok1.wav\tonly two columns",          # wrong number of columns
        "",
    ])
    recordings, report = read_folder(folder, load_audio)
    assert [r.speaker for r in recordings] == ["A", "B", "B"]
    assert report.used == 3
    assert report.skipped == {
        "audio file missing": 1, "no transcript": 1, "unreadable audio": 1,
        "longer than 30 s (cut it into turns)": 1,
        "transcript does not fit its audio (misaligned?)": 1,
        "row with the wrong number of columns": 1,
        "audio file without a transcript row": 1,
    }
    assert "3 recording(s) used" in report.lines()[0]


def test_without_a_speaker_column_each_file_is_its_own_speaker(tmp_path):
    _wav(tmp_path / "a.wav", 1.5)
    _wav(tmp_path / "b.wav", 1.5, 1)
    folder = _folder(tmp_path, ["a.wav\t你好", "b.wav\t再见"], header="path\ttranscript")
    recordings, report = read_folder(folder, load_audio)
    assert {r.speaker for r in recordings} == {"a", "b"}
    assert report.speakers_from_files
    assert any("own speaker" in line for line in report.lines())


@pytest.mark.parametrize("tsv,words", [
    (None, "has no transcripts.tsv"),
    ("file\ttext\nx.wav\t你好\n", "header must name the columns path and transcript"),
])
def test_unusable_folders_raise(tmp_path, tsv, words):
    if tsv is not None:
        (tmp_path / "transcripts.tsv").write_text(tsv, encoding="utf-8")
    with pytest.raises(DatasetError, match=words):
        read_folder(tmp_path, load_audio)


def test_split_keeps_speakers_apart_and_needs_two(tmp_path):
    for i in range(8):
        _wav(tmp_path / f"{i}.wav", 1.0, i)
    rows = [f"{i}.wav\t你好\tS{i % 4}" for i in range(8)]
    recordings, _ = read_folder(_folder(tmp_path, rows), load_audio)
    train, test = split_speakers(recordings, 0.25, seed=2)
    assert len({r.speaker for r in test}) == 1 and len(train) == 6
    assert not {r.speaker for r in train} & {r.speaker for r in test}
    alone = [r for r in recordings if r.speaker == "S0"]
    with pytest.raises(DatasetError, match="1 speaker"):
        split_speakers(alone, 0.25)


def test_spoken_chars_count_what_is_read_aloud():
    assert spoken_chars("佢係我嘅朋友，OK 2個!") == 10


@pytest.mark.parametrize("recipe", RECIPES)
def test_augmentation_is_seeded_and_keeps_the_band(recipe):
    t = np.arange(16_000) / 16_000
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 6000 * t)).astype(
        np.float32)
    a, b = augment(audio, recipe, 5), augment(audio, recipe, 5)
    assert np.array_equal(a, b) and a.dtype == np.float32
    if recipe == "speed":
        assert abs(len(a) / len(audio) - 1) == pytest.approx(0.1, abs=0.01)
    else:
        assert len(a) == len(audio)
    if recipe != "clean":  # the 8 kHz leg removes the 6 kHz tone
        spectrum = np.abs(np.fft.rfft(a[:16_000] if len(a) >= 16_000 else a))
        freqs = np.fft.rfftfreq(min(len(a), 16_000), 1 / 16_000)
        assert spectrum[freqs > 4500].max() < 0.05 * spectrum.max()
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment(audio, "reverb", 0)


@pytest.mark.parametrize("held,mandarin,refused", [
    ({"base": 0.42, "tuned": 0.37}, {"cer_base": 0.207, "cer_pipeline": 0.207}, None),
    ({"base": 0.42, "tuned": 0.37}, {}, None),  # no Mandarin check asked for
    ({"base": 0.30, "tuned": 0.30}, {}, "held-out CER got no better"),
    ({"base": 0.42, "tuned": 0.37}, {"cer_base": 0.20, "cer_pipeline": 0.22},
     "Mandarin CER with it installed 22.0%"),
])
def test_a_model_is_installed_only_when_it_helps_and_spares_mandarin(held, mandarin, refused):
    from tierline.dialects.training.train_dialect_asr import install_refusal

    reason = install_refusal(held, mandarin, 0.01)
    assert reason == refused if refused is None else refused in reason
