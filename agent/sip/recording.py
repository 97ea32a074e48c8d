"""Per-call recordings: the caller's track and the bot's track, 8 kHz WAV, kept for N days.

The two tracks are written as the call runs, 20 ms at a time, so they stay aligned (the line
clock writes both every tick) and a call that ends abruptly keeps what was heard. Files are
``<dir>/<date>/<call>.caller.wav`` and ``.bot.wav``; :func:`prune` deletes recordings older
than the retention setting (run at start-up and once an hour).
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

import numpy as np
import soundfile as sf

logger = logging.getLogger("tierline.sip")

RATE = 8000


def safe_name(call_id: str) -> str:
    """A file name for a Call-ID (which may hold '@', '/', ...)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", call_id)[:80] or "call"


class CallRecorder:
    """Writes one call's caller and bot tracks.

    Args:
        directory: Recordings root.
        call_name: The call's file name stem.
    """

    def __init__(self, directory: str | Path, call_name: str) -> None:
        day = Path(directory) / time.strftime("%Y-%m-%d")
        day.mkdir(parents=True, exist_ok=True)
        stem = safe_name(call_name)
        self.paths = {"caller": day / f"{stem}.caller.wav", "bot": day / f"{stem}.bot.wav"}
        self._files = {k: sf.SoundFile(str(p), "w", RATE, 1, "PCM_16")
                       for k, p in self.paths.items()}
        self.samples = {"caller": 0, "bot": 0}

    def write(self, track: str, pcm: np.ndarray) -> None:
        """Append 8 kHz int16 samples to ``track`` ("caller" or "bot")."""
        f = self._files.get(track)
        if f is not None and not f.closed:
            f.write(pcm)
            self.samples[track] += len(pcm)

    def close(self) -> dict[str, str]:
        """Finish both files; return their paths."""
        for f in self._files.values():
            if not f.closed:
                f.close()
        return {k: str(p) for k, p in self.paths.items()}


def prune(directory: str | Path, retention_days: float) -> int:
    """Delete recordings older than ``retention_days`` (0 keeps everything); return how many
    files went."""
    root = Path(directory)
    if retention_days <= 0 or not root.is_dir():
        return 0
    cutoff = time.time() - retention_days * 86400
    removed = 0
    for path in root.glob("*/*.wav"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError as exc:
            logger.warning("cannot remove old recording %s: %s", path, exc)
    for day in root.iterdir():
        if day.is_dir() and not any(day.iterdir()):
            shutil.rmtree(day, ignore_errors=True)
    if removed:
        logger.info("retention: removed %d recordings older than %s days", removed,
                    retention_days)
    return removed
