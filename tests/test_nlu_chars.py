"""Model input units, the character vocabulary and training augmentation."""

from __future__ import annotations

from tierline.nlu.augment import Augmenter, homophone_table
from tierline.nlu.chars import CLS, SPECIALS, UNK, CharVocab, units


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
