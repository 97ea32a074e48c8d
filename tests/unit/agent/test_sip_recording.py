"""Per-call recordings: two aligned tracks, and retention deletes only what is old enough."""

from __future__ import annotations

import os
import time

import numpy as np
import soundfile as sf

from tierline.agent.sip.recording import CallRecorder, prune


def test_both_tracks_are_written_as_the_call_runs(tmp_path):
    rec = CallRecorder(tmp_path, "a1b2@10.0.0.1/x")
    tone = (np.sin(np.arange(160) / 3) * 9000).astype(np.int16)
    for _ in range(50):
        rec.write("caller", tone)
        rec.write("bot", np.zeros(160, np.int16))
    paths = rec.close()
    caller, rate = sf.read(paths["caller"], dtype="int16")
    bot, _ = sf.read(paths["bot"], dtype="int16")
    assert rate == 8000 and len(caller) == len(bot) == 8000
    assert np.array_equal(caller[:160], tone)
    assert "/" not in os.path.basename(paths["caller"])


def test_retention_removes_old_recordings_only(tmp_path):
    old = CallRecorder(tmp_path, "old").close()
    new = CallRecorder(tmp_path, "new").close()
    past = time.time() - 40 * 86400
    for path in old.values():
        os.utime(path, (past, past))
    assert prune(tmp_path, 30) == 2
    assert not any(os.path.exists(p) for p in old.values())
    assert all(os.path.exists(p) for p in new.values())
    assert prune(tmp_path, 0) == 0  # 0 keeps everything
