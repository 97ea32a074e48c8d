"""The sound bag member of the intent ensemble: it reads folded sounds only, so homophones
that Whisper writes give it exactly the input of the word that was said."""

from __future__ import annotations

from helpers import require

require.module("torch", extra="train")  # make test installs it: missing, this fails there

from tierline.nlu.chars import CharVocab, clip_units  # noqa: E402
from tierline.nlu.training.architectures import SoundBag  # noqa: E402
from tierline.nlu.training.config import ModelConfig  # noqa: E402
from tierline.nlu.training.features import FeatureEncoder, padded  # noqa: E402
from tierline.nlu.training.train_extra import torch  # noqa: E402

CFG = ModelConfig(hidden=16, layers=1, heads=2, ffn=32, bigram_buckets=512, sound_buckets=2048)


def _bag_and_encoder(texts: list[str]):
    torch.manual_seed(0)
    bag = SoundBag(CFG, num_labels=3)
    with torch.no_grad():  # zero-initialised tables: give every feature a weight
        for table in (bag.single, bag.pair, bag.triple):
            table.weight.normal_()
            table.weight[0].zero_()
    vocab = CharVocab.build([u for t in texts for u in clip_units(t, CFG.max_len)])
    return bag.eval(), FeatureEncoder(vocab, CFG)


def _logits(bag, encode, texts: list[str]):
    with torch.no_grad():
        return bag(*padded([encode(t) for t in texts])).logits


def test_homophones_read_alike_and_other_words_do_not() -> None:
    said, heard, other = "我们准备迁到钉钉去", "我们准备迁到定定去", "我们准备留在这里"
    bag, encode = _bag_and_encoder([said, heard, other])
    out = _logits(bag, encode, [said, heard, other])
    assert torch.allclose(out[0], out[1])  # 钉钉 / 定定: ding ding
    assert not torch.allclose(out[0], out[2], atol=1e-3)


def test_padding_does_not_change_a_turn() -> None:
    short, long = "价格", "你们这个系统一年的价格是多少"
    bag, encode = _bag_and_encoder([short, long])
    alone = _logits(bag, encode, [short])[0]
    batched = _logits(bag, encode, [short, long])[0]  # padded to the longer turn
    assert torch.allclose(alone, batched, atol=1e-6)


def test_turns_without_sounds_get_the_bias_only() -> None:
    bag, encode = _bag_and_encoder(["api", "价"])
    out = _logits(bag, encode, ["api", "价"])
    assert torch.allclose(out[0], bag.bias)  # letters have no sound feature
    assert not torch.allclose(out[1], bag.bias)  # one sound: a single, no pair or triple
