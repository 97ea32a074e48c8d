"""Kokoro renderings of training texts, cached as ``NAME.npy`` files (one per clip).

Both Whisper trainers speak their texts with Kokoro-82M once and keep the audio: the
call-centre decoder adapter (through a phone line) and the short-window encoder (clean, the
line applied later). A file is written under a temporary name and renamed when complete, so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def render_to_cache(items: Sequence[tuple[str, str]], audio_dir: Path, threads: int,
                    log: Callable[[str], None],
                    finish: Callable[[np.ndarray, str], np.ndarray] | None = None,
                    dtype: type = np.float32, every: int = 50) -> None:
    """Speak the ``(name, text)`` items not yet in ``audio_dir``.

    Args:
        items: Clip names (file stems) and their texts.
        audio_dir: The cache folder.
        threads: Kokoro's onnxruntime threads.
        log: Progress lines.
        finish: Applied to each clip's 16 kHz audio with the text's hash (e.g. a phone line);
            default: kept as spoken.
        dtype: Storage type of the saved audio.
        every: A progress line every this many clips.
    """
    todo = [(name, text) for name, text in items if not (audio_dir / f"{name}.npy").is_file()]
    if not todo:
        return
    from tierline.audio.synthetic.kokoro import KokoroMandarin
    from tierline.nlu.training.asr_corpus import Renderer, utterance_hash

    audio_dir.mkdir(parents=True, exist_ok=True)
    render = Renderer("kokoro", KokoroMandarin(threads))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, text) in enumerate(todo, 1):
            h = utterance_hash(text)
            audio = render(text, Path(tmp), h)
            if finish is not None:
                audio = finish(audio, h)
            part = audio_dir / f"{name}.tmp.npy"
            np.save(part, np.asarray(audio).astype(dtype))
            part.replace(audio_dir / f"{name}.npy")
            if k % every == 0 or k == len(todo):
                log(f"rendered {k}/{len(todo)} ({(time.perf_counter() - t0) / k:.2f} s/clip)")
