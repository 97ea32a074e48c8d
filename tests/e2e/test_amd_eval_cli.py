"""`tierline amd-eval` as a user runs it: real speech vs real telephone prompts, held-out half.

The thresholds were set on the ``tune`` half; this checks the ``test`` half (other speakers,
other prompt chains, other Mandarin texts) against floors below what was measured there
(docs/campaigns.md: human P 1.00 / R 0.98, voicemail P 0.88 / R 1.00, ivr P 1.00 / R 1.00).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers.data import shared_data_dir
from helpers.require import missing

SOUNDS = Path("/usr/share/asterisk/sounds/en")


def test_amd_eval_scores_the_held_out_half(tmp_path: Path):
    data = shared_data_dir()
    if not (SOUNDS / "vm-intro.wav").is_file():
        missing("asterisk-core-sounds-en-wav is not installed (make setup)")
    out = tmp_path / "amd.jsonl"
    proc = subprocess.run([sys.executable, "-m", "tierline.agent.cli", "amd-eval", "--data",
                           str(data), "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    summary = rows[-1]
    cases = rows[:-1]
    assert summary["split"] == "test" and all(c["split"] == "test" for c in cases)
    labels = {c["label"] for c in cases}
    assert labels == {"human", "voicemail", "ivr"}
    assert {c["family"] for c in cases} >= {"asterisk-en", "espeak-zh", "aishell1_sample"}
    assert len(cases) >= 100
    scores = summary["scores"]
    for label, floor in (("human", 0.9), ("voicemail", 0.75), ("ivr", 0.75)):
        assert scores[label]["precision"] >= floor, (label, scores[label])
        assert scores[label]["recall"] >= floor, (label, scores[label])
    # every voicemail decided on its beep, and the beeps it found are the ones it was given
    beeps = [c["beep_hz"] for c in cases if c["label"] == "voicemail" and c["outcome"] ==
             "voicemail"]
    assert beeps and all(b is not None and 600 <= b <= 1100 for b in beeps)
    assert "precision" in proc.stdout and "split test" in proc.stdout


def test_amd_eval_without_data_is_one_line_and_exit_2(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "tierline.agent.cli", "amd-eval", "--data",
                           str(tmp_path / "nowhere")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "no shared data" in proc.stderr and "Traceback" not in proc.stderr
