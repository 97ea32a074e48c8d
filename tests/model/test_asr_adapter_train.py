"""Training the decoder adapter: the torch decoder matches CTranslate2, and a short run learns.

Needs the ``train`` extra (torch) and the assembled Whisper base; clips are spoken by espeak-ng
here so the test does not depend on the neural voice.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers import require

torch = require.module("torch", extra="train")

from tierline.dialects.ct2_weights import read_ct2  # noqa: E402
from tierline.dialects.decoder_lora import DecoderAdapter, merge_adapter  # noqa: E402
from tierline.dialects.models import whisper_base_dir  # noqa: E402
from tierline.dialects.training.torch_decoder import ADAPTED, WhisperDecoder  # noqa: E402
from tierline.dialects.training.train_adapter import (  # noqa: E402
    AdapterSettings,
    target_tokens,
    train_adapter,
)
from tierline.nlu.training.asr_corpus import phone_line, speak  # noqa: E402

pytestmark = pytest.mark.whisper

TEXTS = ("你们的报价太贵了", "我想了解一下坐席系统", "服务器登录不上")


@pytest.fixture(scope="module")
def whisper():
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

    model = WhisperModel(str(whisper_base_dir()), device="cpu", compute_type="int8",
                         cpu_threads=2)
    return model, Tokenizer(model.hf_tokenizer, True, task="transcribe", language="zh")


@pytest.fixture(scope="module")
def weights():
    return read_ct2(whisper_base_dir() / "model.bin")


@pytest.fixture(scope="module")
def clips(whisper):
    from faster_whisper.audio import pad_or_trim

    model, tokenizer = whisper
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(TEXTS):
            audio = phone_line(speak(text, Path(tmp), 150), seed=i)
            features = pad_or_trim(model.feature_extractor(audio)[:, :3000])
            encoded = np.array(model.encode(features))[0].astype(np.float16)
            out.append((encoded, target_tokens(tokenizer, text, audio), "domain"))
    return out


def test_torch_decoder_reads_like_ctranslate2(whisper, weights, clips):
    import ctranslate2

    model, tokenizer = whisper
    encoded = clips[0][0]
    prompt = list(tokenizer.sot_sequence)
    result = model.model.generate(ctranslate2.StorageView.from_array(encoded[None].astype(
        np.float32)), [prompt], beam_size=1, max_length=64)
    ids = [t for t in result[0].sequences_ids[0] if t < tokenizer.eot]  # text tokens only
    assert ids
    decoder = WhisperDecoder(weights.variables, rank=0)
    seq = torch.tensor([prompt + [tokenizer.timestamp_begin] + ids])
    with torch.no_grad():
        logits = decoder(seq, torch.tensor(encoded[None].astype(np.float32)))
    start = len(prompt)  # position of <|0.00|>: it predicts the first text token
    predicted = logits[0, start: start + len(ids)].argmax(-1).tolist()
    assert predicted == ids


def test_untrained_adapter_changes_nothing(weights, clips):
    encoded, tokens, _ = clips[1]
    seq = torch.tensor([tokens])
    enc = torch.tensor(encoded[None].astype(np.float32))
    with torch.no_grad():
        plain = WhisperDecoder(weights.variables, rank=0)(seq, enc)
        adapted = WhisperDecoder(weights.variables, rank=4)(seq, enc)
    assert torch.allclose(plain, adapted)


def test_short_training_learns_and_merges(weights, clips):
    settings = AdapterSettings(rank=4, epochs=4, batch=3, learning_rate=3e-3)
    decoder, before, after = train_adapter(clips, clips, weights.variables, settings,
                                           lambda _msg: None)
    assert after < before
    factors = decoder.factors()
    assert len(factors) == (len(ADAPTED) - 2) * 6  # cross-attention left as shipped
    merged = merge_adapter(weights, DecoderAdapter(factors, {}))
    name = next(iter(factors))
    a, b = factors[name]
    assert a.shape[0] == b.shape[1] == 4
    assert not np.array_equal(merged.variables[name], weights.variables[name])
