"""Bad input on the command line: one clear line on stderr, exit code 2, never a traceback."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import paths

from tierline.core.errors import EXIT_BAD_INPUT

SAMPLES = paths.CALLS


def tierline(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real console entry point in a child process."""
    return subprocess.run([sys.executable, "-m", "tierline.agent.cli", *args],
                          capture_output=True, text=True, timeout=timeout)


def assert_bad_input(proc: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 2, no traceback, and exactly one error line that mentions ``words``."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("tierline: error:")]
    assert len(errors) == 1, proc.stderr
    for word in words:
        assert word in errors[0], errors[0]


def write_wav_header(path: Path, rate: int, data: bytes = b"") -> Path:
    """A canonical PCM_16 mono WAV with ``data`` as its samples."""
    header = (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
              + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
              + b"data" + struct.pack("<I", len(data)))
    path.write_bytes(header + data)
    return path


@pytest.fixture()
def customer(tmp_path: Path) -> Path:
    """An existing customer with many complaints and poor renewals: churn risk from CRM alone."""
    path = tmp_path / "unhappy.customer.json"
    path.write_text(json.dumps({"id": "C9", "contract_value": 200000, "renewal_rate": 0.2,
                                "complaint_count": 6}))
    return path


def test_missing_audio(tmp_path: Path):
    assert_bad_input(tierline("replay", str(tmp_path / "nope.wav")), "not found", "nope.wav")


def test_text_file_named_wav(tmp_path: Path):
    fake = tmp_path / "notes.wav"
    fake.write_text("this is not audio\n" * 20)
    assert_bad_input(tierline("replay", str(fake)), "not a readable audio file", "notes.wav")


def test_header_only_wav(tmp_path: Path):
    assert_bad_input(tierline("replay", str(write_wav_header(tmp_path / "empty.wav", 8000))),
                     "empty")


def test_zero_byte_file(tmp_path: Path):
    (tmp_path / "zero.wav").write_bytes(b"")
    assert_bad_input(tierline("replay", str(tmp_path / "zero.wav")), "empty")


@pytest.mark.parametrize("rate", [1, 1_000_000])
def test_absurd_sample_rate(tmp_path: Path, rate: int):
    path = write_wav_header(tmp_path / "odd.wav", rate, b"\x00\x01" * 4000)
    assert_bad_input(tierline("replay", str(path)), "sample rate")


@pytest.mark.whisper
def test_every_file_of_a_batch_is_tried(tmp_path: Path):
    """A missing file, a non-audio file and a bad sibling customer JSON each get an error
    record in their place; the good files around them are replayed; exit 2 at the end."""
    notaudio = tmp_path / "notes.wav"
    notaudio.write_text("not audio")
    badcust = tmp_path / "c.wav"
    badcust.write_bytes((SAMPLES / "medium_price_continue.wav").read_bytes())
    (tmp_path / "c.customer.json").write_text("{broken", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    report = tmp_path / "r.html"
    proc = tierline("replay", str(tmp_path / "missing.wav"), str(SAMPLES / "angry_care.wav"),
                    str(notaudio), str(badcust), str(SAMPLES / "low_refusal_continue.wav"),
                    "--json", str(out), "--report", str(report), timeout=600)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    records = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [("error" in r) for r in records] == [True, False, True, True, False]
    assert [r["call"]["audio"] for r in records][1].endswith("angry_care.wav")
    assert records[1]["route"]["queue"] == "care" and records[4]["turns"]
    assert "not found" in records[0]["error"] and "JSON" in records[3]["error"]
    errors = [x for x in proc.stderr.splitlines() if x.startswith("tierline: error:")]
    assert len(errors) == 3 and "3 of 5 file(s) failed" in proc.stderr
    assert report.is_file()


@pytest.mark.parametrize("flag", ["--early-close-ms", "--unfinished-hangover-ms"])
def test_turn_end_waits_must_not_be_negative(flag: str):
    proc = tierline("replay", str(SAMPLES / "low_refusal_continue.wav"), flag, "-1")
    assert_bad_input(proc, flag)


def test_jobs_must_be_positive():
    proc = tierline("replay", str(SAMPLES / "low_refusal_continue.wav"), "--jobs", "0")
    assert_bad_input(proc, "--jobs")


@pytest.mark.whisper
def test_a_batch_of_good_files_exits_0(tmp_path: Path):
    proc = tierline("replay", str(SAMPLES / "low_refusal_continue.wav"), "--json", "-")
    assert proc.returncode == 0, proc.stderr
    assert "error" not in json.loads(proc.stdout.splitlines()[-1])


def test_malformed_customer_json(tmp_path: Path):
    bad = tmp_path / "c.json"
    bad.write_text('{"contract_value": 10,\n "click_times": }')
    assert_bad_input(tierline("replay", str(SAMPLES / "angry_care.wav"), "--customer", str(bad)),
                     "invalid JSON", "line 2")


def test_unknown_customer_feature(tmp_path: Path):
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"contract_value": 10, "clicks": 3}))
    assert_bad_input(tierline("tier", "--dialog", str(_dialog(tmp_path, customer=json.loads(
        bad.read_text())))), "unknown customer feature", "clicks")


def test_negative_customer_feature(tmp_path: Path):
    path = _dialog(tmp_path, customer={"complaint_count": -3})
    assert_bad_input(tierline("tier", "--dialog", str(path)), "complaint_count", "negative")


def _dialog(tmp_path: Path, customer: dict | None = None, utterances=("你好",)) -> Path:
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"id": "d1", "customer": customer or {},
                                "utterances": list(utterances)}, ensure_ascii=False))
    return path


@pytest.mark.parametrize("content,words", [
    ("[", ["invalid JSON"]),
    ('{"id": "x", "utterances": "hello"}', ["'utterances' must be a list"]),
    ('{"id": "x", "utterances": []}', ["empty"]),
    ('{"id": "x", "utterances": [1, 2]}', ["utterance 0 is not text"]),
    ("[]", ["no dialogs"]),
])
def test_malformed_dialog(tmp_path: Path, content: str, words: list[str]):
    path = tmp_path / "d.json"
    path.write_text(content)
    assert_bad_input(tierline("tier", "--dialog", str(path)), *words)


def test_missing_dialog_file(tmp_path: Path):
    assert_bad_input(tierline("tier", "--dialog", str(tmp_path / "none.json")), "not found")


def test_unreadable_nlu_file(tmp_path: Path):
    assert_bad_input(tierline("nlu", "--file", str(tmp_path / "none.txt")), "none.txt")


def test_asr_eval_bad_manifest(tmp_path: Path):
    manifest = tmp_path / "m.tsv"
    manifest.write_text("file\ttext\na.wav\t你好\n")
    assert_bad_input(tierline("asr-eval", str(manifest)), "path", "transcript")


def test_asr_eval_missing_clip(tmp_path: Path):
    manifest = tmp_path / "m.tsv"
    manifest.write_text("path\ttranscript\ngone.wav\t你好\n")
    assert_bad_input(tierline("asr-eval", str(manifest)), "gone.wav")


def test_asr_model_directory_that_is_not_a_model(tmp_path: Path):
    proc = tierline("replay", str(SAMPLES / "angry_care.wav"), "--asr-model", str(tmp_path))
    assert_bad_input(proc, "model.bin")


def test_debug_shows_the_traceback(tmp_path: Path):
    proc = tierline("--debug", "replay", str(tmp_path / "nope.wav"))
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr


@pytest.mark.whisper
def test_silence_gives_zero_turns_and_a_crm_tier(tmp_path: Path, customer: Path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(8000 * 3, dtype=np.float32), 8000, subtype="ULAW")
    proc = tierline("replay", str(silent), "--customer", str(customer), "--json", "-")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["turns"] == []
    assert result["final_tier"] == "churn_risk"
    assert "CRM" in result["route"]["reason"]
    assert result["route"]["action"] == "continue"
    assert result["route"]["at_turn"] is None


def _cut_copy(src: Path, dst: Path, keep: float) -> float:
    """Write the first ``keep`` share of ``src``'s bytes to ``dst``; returns src's duration."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return sf.info(str(src)).duration


@pytest.mark.whisper
@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_a_cut_recording_keeps_its_decoded_part_and_says_so(tmp_path: Path, fmt: str):
    """A WAV whose header promises more than the file holds, and a FLAC that breaks off,
    are replayed up to the cut: exit 0, a warning, the real duration and the claim in JSON."""
    src = SAMPLES / "high_budget_senior_sales.wav"
    whole = tmp_path / f"whole.{fmt}"
    data, rate = sf.read(str(src))
    sf.write(str(whole), data, rate)
    cut = tmp_path / f"cut.{fmt}"
    duration = _cut_copy(whole, cut, 0.7)
    proc = tierline("replay", str(cut), "--json", "-", timeout=300)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout.splitlines()[-1])
    assert "error" not in record
    info = record["call"]["cut"]
    assert info["claimed_s"] == pytest.approx(duration, abs=0.05)
    assert 0.5 * duration < record["call"]["duration_s"] < 0.8 * duration
    assert info["at_s"] == pytest.approx(record["call"]["duration_s"], abs=0.05)
    assert record["turns"]  # the turns before the cut are kept
    assert any("cut at" in line and "warning" in line for line in proc.stderr.splitlines())


@pytest.mark.whisper
def test_same_stem_files_get_distinct_ids_and_never_overwrite(tmp_path: Path):
    """x.ul and x.al (same stem) are two calls with two ids; replaying one again keeps the
    evidence stored the first time."""
    import os

    from tierline.audio.g711 import alaw_encode, ulaw_encode
    from tierline.audio.io import TELEPHONE_RATE, load_audio, resample

    pcm = resample(load_audio(SAMPLES / "churn_competitor_retention.wav"), 16_000,
                   TELEPHONE_RATE)
    pcm16 = np.clip(np.round(pcm * 32768), -32768, 32767).astype(np.int16)
    (tmp_path / "x.ul").write_bytes(ulaw_encode(pcm16).tobytes())
    (tmp_path / "x.al").write_bytes(alaw_encode(pcm16).tobytes())
    env = {**os.environ, "TIERLINE_HOME": str(tmp_path / "home")}
    models = Path(os.environ.get("TIERLINE_HOME", Path.home() / ".cache" / "tierline"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "models").symlink_to((models / "models").resolve())

    def replay(*paths):
        proc = subprocess.run([sys.executable, "-m", "tierline.agent.cli", "replay",
                               *map(str, paths), "--json", "-"], capture_output=True,
                              text=True, timeout=600, env=env)
        assert proc.returncode == 0, proc.stderr
        return [json.loads(x) for x in proc.stdout.splitlines()], proc.stderr

    records, _ = replay(tmp_path / "x.ul", tmp_path / "x.al")
    ids = [r["call"]["id"] for r in records]
    assert len(set(ids)) == 2 and all(i.startswith("x-") for i in ids)
    again, err = replay(tmp_path / "x.ul")
    assert again[0]["call"]["id"] == ids[0]
    assert "stored before; the earlier evidence is kept" in err


def test_the_cli_reports_a_user_error_in_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "tierline.agent.cli", "tier", "--dialog",
                          str(tmp_path / "none.json")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == EXIT_BAD_INPUT  # tierline.core.errors: the one mapping
    assert out.stderr.startswith("tierline: error: ") and len(out.stderr.splitlines()) == 1
