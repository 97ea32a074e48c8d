"""Model input units, the character vocabulary and training augmentation."""

from __future__ import annotations

import pytest

from tierline.nlu.chars import CLS, SPECIALS, UNK, CharVocab, units
from tierline.nlu.training.augment import Augmenter, homophone_table


def test_numbers_become_magnitude_tokens_whatever_their_script() -> None:
    forms = ["两百个座席", "200个座席", "二百个座席", "两百来个座席"]
    assert {tuple(units(f)) for f in forms} == {("[N2]", "个", "座", "席")}
    assert units("预算1.5个亿") == ["预", "算", "[N8]"]
    assert units("三五万") == ["[N4]"]


def test_punctuation_space_and_case_are_dropped() -> None:
    assert units("你好！！ OK?") == ["你", "好", "o", "k"]
    assert units("，。！？、") == []
    assert units("") == []


def test_vocab_is_deterministic_and_starts_with_specials() -> None:
    a = CharVocab.build(["你们好", "你好"])
    b = CharVocab.build(["你好", "你们好"])
    assert a == b
    assert a.tokens[: len(SPECIALS)] == SPECIALS
    assert a.tokens[len(SPECIALS)] in ("你", "好")


def test_encode_maps_unknown_units_and_bounds_length() -> None:
    v = CharVocab.build(["你好"])
    ids = v.encode("你好吗", 8)
    assert ids[0] == v.tokens.index(CLS)
    assert ids[-1] == v.tokens.index(UNK)
    long = v.encode("你" * 10_000 + "好", 16)
    assert len(long) == 16
    assert long[-1] == v.tokens.index("好")  # the tail of a long turn is kept


def test_homophones_share_toneless_pinyin() -> None:
    table = homophone_table(["是", "事", "市", "好"])
    assert set(table["是"]) == {"事", "市"}
    assert "好" not in table


def test_augmenter_is_seeded_and_keeps_most_characters() -> None:
    table = homophone_table(["是", "事", "市", "试", "用", "一", "下"])
    a = Augmenter(table, ["你好我是前台"], seed=3)
    b = Augmenter(table, ["你好我是前台"], seed=3)
    text = "可以先试用一下吗"
    va = [a.variant(text) for _ in range(20)]
    assert va == [b.variant(text) for _ in range(20)]
    assert len(set(va)) > 3
    for v in va:
        assert len(set(v) & set(text)) >= 3


def test_endings_swap_or_drop_only_clause_final_particles() -> None:
    a = Augmenter({}, [], seed=5)
    text = "我们不打算继续用了，你们看着办吧"
    seen = {a.endings(text) for _ in range(60)}
    stems = {s.replace("，", "|") for s in seen}
    # 了 becomes 的/啦/咯 or disappears; 吧 stays or disappears; nothing else changes
    assert {"我们不打算继续用的|你们看着办吧", "我们不打算继续用|你们看着办"} <= stems
    for v in seen:
        head, tail = v.split("，")
        assert head.startswith("我们不打算继续用") and len(head) <= len("我们不打算继续用") + 1
        assert tail in ("你们看着办吧", "你们看着办")
    assert a.endings("没有") == "没有"


def test_bigrams_align_with_ids_and_are_stable() -> None:
    from tierline.nlu.chars import bigram_ids, clip_units

    seq = clip_units("你们价格多少", 16)
    v = CharVocab.build(["你们价格多少"])
    b = bigram_ids(seq, 1024)
    assert len(b) == len(v.ids(seq)) and b[0] == 0
    assert all(0 < x < 1024 for x in b[1:])
    # the same pair hashes the same anywhere (价格 in two sentences)
    other = clip_units("价格太高", 16)
    assert bigram_ids(other, 1024)[1] == b[3]


@pytest.mark.parametrize(("a", "b"), [
    ("买", "卖"),  # tone differs
    ("人", "任"),
    ("是", "四"),  # sh → s
    ("张", "脏"),  # zh → z, -ang → -an
    ("龙", "农"),  # l → n
    ("星", "心"),  # -ing → -in
])
def test_homophones_and_southern_mergers_share_a_sound(a: str, b: str) -> None:
    from tierline.nlu.chars import sound

    assert sound(a) and sound(a) == sound(b)


def test_sounds_align_with_ids_and_skip_what_is_not_chinese() -> None:
    from tierline.nlu.chars import sound, sound_ids, units

    assert sound("价") != sound("格") and sound("錢") == sound("钱")
    seq = units("买OK两百个😀")
    s = sound_ids(seq, 2048)
    assert len(s) == len(seq) + 1 and s[0] == 0
    assert [x > 0 for x in s[1:]] == [len(sound(u)) > 0 for u in seq]
    assert s[1] == sound_ids(units("卖"), 2048)[1]  # 买/卖 share the embedding
    assert all(0 <= x < 2048 for x in s)
