"""`tierline vad-eval` and `tierline arousal-eval`: real runs on tiny data, bad input exits 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers.voice_audio import AGITATED, CALM, espeak


def tierline(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tierline.agent.cli", *args],
                          capture_output=True, text=True, timeout=180)


def assert_bad_input(proc: subprocess.CompletedProcess, word: str) -> None:
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and word in errors[0], proc.stderr


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("speech")
    texts = ["我想问一下价格", "你们的系统又坏了", "我们有两百个人", "请帮我转人工"]
    for i, text in enumerate(texts):
        audio = np.concatenate([np.zeros(4000), espeak(text, **CALM), np.zeros(4000)])
        sf.write(folder / f"S0001W{i:04d}.wav", audio.astype(np.float32), 16000)
    return folder


def test_vad_eval_rows(clips: Path):
    proc = tierline("vad-eval", str(clips), "--per-call", "2", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {r["condition"] for r in rows} == {"quiet", "noisy", "coughs"}
    assert {"webrtcvad endpointer", "two-stage endpointer"} <= {r["system"] for r in rows}
    for r in rows:
        assert 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1 and r["turns"] == 4
    two_stage = [r for r in rows if r["system"] == "two-stage endpointer"]
    assert all(r["missed"] == 0 for r in two_stage)


def test_arousal_eval_on_labelled_clips(tmp_path: Path):
    (tmp_path / "wav").mkdir()
    styles = [CALM, {"speed": 170, "amplitude": 130, "pitch": 65}, AGITATED]
    with open(tmp_path / "arousal.csv", "w", encoding="utf-8") as fh:
        for i, (style, label) in enumerate(zip(styles * 2, [0.1, 0.5, 0.9] * 2, strict=True)):
            text = "我想问一下价格" if i < 3 else "你们的系统又坏了"
            sf.write(tmp_path / "wav" / f"{i}.wav", espeak(text, **style), 16000)
            fh.write(f"{i}.wav,{label}\n")
    proc = tierline("arousal-eval", "--emotion-dir", str(tmp_path), "--json", "-")
    assert proc.returncode == 0, proc.stderr
    (row,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert row["n"] == 6 and -1 <= row["spearman"] <= 1


@pytest.mark.parametrize("args,word", [
    (["vad-eval", "/nonexistent/speech"], "not found"),
    (["arousal-eval"], "--emotion-dir"),
    (["arousal-eval", "--emotion-dir", "/nonexistent"], "not found"),
])
def test_bad_input_is_one_line_exit_2(args, word):
    assert_bad_input(tierline(*args), word)


def test_vad_eval_too_few_clips(tmp_path: Path):
    assert_bad_input(tierline("vad-eval", str(tmp_path)), "need at least")
