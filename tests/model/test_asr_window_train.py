"""The short-window fine-tune's parts: its data never touches the CER test set, its torch
encoder is CTranslate2's, its student window is the runtime's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tierline.dialects.training.window_data import (
    aishell_test_texts,
    kokoro_sources,
    line,
    real_sources,
)


def test_the_lines_keep_the_length_and_change_the_sound():
    rng = np.random.default_rng(0)
    audio = (0.2 * np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000)).astype(np.float32)
    audio += rng.normal(0, 0.01, audio.shape).astype(np.float32)
    assert np.array_equal(line(audio, "wide", 1), audio)
    for kind in ("ulaw", "alaw"):
        heard = line(audio, kind, 1)
        assert heard.shape == audio.shape and heard.dtype == np.float32
        assert not np.allclose(heard, audio * 0.7, atol=1e-3)  # coded, not just scaled
        assert np.corrcoef(heard[200:-200], audio[200:-200])[0, 1] > 0.9  # still the tone


def test_no_test_recording_or_its_text_is_trained_on(shared_data: Path):
    DATA = shared_data
    held_out = aishell_test_texts(DATA)
    assert len(held_out) == 60
    sources = kokoro_sources(DATA, 2000)
    assert sources and not {s.text for s in sources} & held_out
    real = real_sources(DATA, 7)
    assert real and all("aishell" not in s.text and "asr_manifest" not in s.text for s in real)
    with (DATA / "asr_manifest.tsv").open(encoding="utf-8") as f:
        evaluated = {str(DATA / row.split("\t")[0]) for row in f.read().splitlines()[1:]}
    assert not {s.text for s in real} & evaluated
    assert all(1.5 <= s.end_s - s.start_s <= 12.0 + 1e-6 for s in real)


@pytest.mark.whisper
def test_the_torch_encoder_is_ctranslate2s_and_the_student_window_is_the_runtimes():
    torch = pytest.importorskip("torch")
    from faster_whisper.feature_extractor import FeatureExtractor

    from tierline.dialects.ct2_weights import read_ct2
    from tierline.dialects.models import resolve_asr_model
    from tierline.dialects.training.torch_decoder import WhisperDecoder
    from tierline.dialects.training.torch_encoder import WhisperEncoder
    from tierline.dialects.training.train_window import student_mel
    from tierline.dialects.whisper_ct2 import WhisperRuntime

    model_dir = resolve_asr_model(None)
    runtime = WhisperRuntime(model_dir, compute_type="float32")
    variables = read_ct2(model_dir / "model.bin").variables
    rng = np.random.default_rng(3)
    audio = (rng.normal(0, 0.05, 24000) * np.hanning(24000)).astype(np.float32)
    mel = student_mel(FeatureExtractor(feature_size=80), audio, 0.5)
    # the runtime's dynamic window: audio + 0.5 s of silence, log-mel, even frames
    padded = np.concatenate([audio, np.zeros(8000, np.float32)])
    assert np.allclose(mel, runtime.mel(padded)[:, : mel.shape[1]])
    assert mel.shape[1] % 2 == 0 and mel.shape[1] in (198, 200)
    encoder = WhisperEncoder(variables, rank=4)
    with torch.no_grad():
        ours = encoder(torch.tensor(mel[None]))[0].numpy()
    theirs = np.array(runtime.encode(mel, mel.shape[1]))[0]
    assert ours.shape == theirs.shape and np.abs(ours - theirs).max() < 0.01
    assert set(encoder.factors()) and all(k.startswith("encoder/") for k in encoder.factors())
    decoder = WhisperDecoder(variables, rank=0)
    tokens = torch.tensor([runtime.prompt("zh", None)])
    with torch.no_grad():
        states = decoder.hidden_states(tokens, torch.tensor(theirs[None]))
        logits = decoder(tokens, torch.tensor(theirs[None]))
    assert len(states) == decoder.n_layers + 1
    assert torch.allclose(states[-1] @ decoder.embeddings.T, logits)
