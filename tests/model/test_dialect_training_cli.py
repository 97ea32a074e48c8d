"""Training commands refuse bad dialect input with one error line and exit code 2, after
counting what they skipped (needs the ``train`` extra: ``tierline train asr --dialect``
imports torch before it trains)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.require import module
from helpers.voice_audio import write_tone_wav


@pytest.fixture(autouse=True)
def _torch():
    module("torch", "train")


_wav = write_tone_wav


def _folder(tmp_path: Path, rows: list[str]) -> Path:
    (tmp_path / "transcripts.tsv").write_text("\n".join(["path\ttranscript\tspeaker", *rows])
                                              + "\n", encoding="utf-8")
    return tmp_path


def _cli(capsys, *args: str) -> tuple[int, str]:
    """The command line in this process: (exit code, stderr)."""
    from tierline.agent.cli import main

    code = main(list(args))
    return code, capsys.readouterr().err


def _one_error_line(result: tuple[int, str], *words: str) -> None:
    code, err = result
    assert code == 2, err
    errors = [line for line in err.splitlines() if line.startswith("tierline: error:")]
    assert len(errors) == 1, err
    for word in words:
        assert word in errors[0], errors[0]


def test_cli_refuses_a_folder_with_one_speaker_after_counting_its_bad_rows(tmp_path, capsys):
    _wav(tmp_path / "a.wav", 1.5)
    _wav(tmp_path / "b.wav", 1.5, 1)
    (tmp_path / "c.wav").write_bytes(b"junk")
    folder = _folder(tmp_path, ["a.wav\t你好\tS", "b.wav\t再见\tS", "c.wav\t坏\tS"])
    result = _cli(capsys, "train", "asr", "--dialect", "yue", str(folder), "--folds", "1")
    _one_error_line(result, "1 speaker(s)", "too few")
    assert "skipped 1: unreadable audio" in result[1]


def test_cli_refuses_more_folds_than_speakers(tmp_path, capsys):
    for i in range(2):
        _wav(tmp_path / f"{i}.wav", 1.5, i)
    folder = _folder(tmp_path, ["0.wav\t你好\tS0", "1.wav\t再见\tS1"])
    result = _cli(capsys, "train", "asr", "--dialect", "yue", str(folder), "--folds", "3")
    _one_error_line(result, "2 speaker(s)", "3 speaker-disjoint folds")


@pytest.mark.parametrize("args,words", [
    (("train", "asr", "--dialect", "klingon", "."), "unknown dialect family 'klingon'"),
    (("train", "asr", "--dialect", "yue"), "needs DATA_DIR"),
    (("train", "asr", "--dialect", "yue", "/nonexistent/folder"), "not found"),
    (("train", "asr", "--dialect", "yue", ".", "--recipes", "reverb"), "--recipes"),
    (("train", "dialect-id", "--recipes", "ulaw"), "--recipes must include clean"),
    (("train", "dialect-id", "--families", "klingon"), "unknown families"),
])
def test_cli_bad_dialect_arguments(args, words, capsys):
    _one_error_line(_cli(capsys, *args), words)
