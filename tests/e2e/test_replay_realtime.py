"""`tierline replay --realtime` paces frames at 1x, so decision latency is what a live call sees."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from helpers import paths

SAMPLE = paths.CALLS / "angry_care.wav"

pytestmark = [pytest.mark.whisper, pytest.mark.slow]


def test_realtime_replay_takes_the_call_duration_and_times_decisions():
    import soundfile as sf

    duration = sf.info(str(SAMPLE)).duration
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tierline.agent.cli", "replay", str(SAMPLE),
                           "--realtime", "--json", "-"], capture_output=True, text=True,
                          timeout=120)
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["call"]["realtime"] is True
    assert wall >= duration  # paced: cannot finish before the audio has played
    assert result["turns"]
    for turn in result["turns"]:
        latency = turn["latency_ms"]
        # from the caller's last voiced frame: the silence wait and every stage are inside
        assert latency["decision"] >= latency["asr"]
        assert latency["decision"] >= latency["endpoint"] + latency["nlu"] + latency["tier"]
        # at 1x the endpointer waits its hangover (600 ms), longer only mid-number (1.5 s)
        assert 400 <= latency["endpoint"] <= 2500
