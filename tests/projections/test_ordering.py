"""The pinyin key names sort by: syllable by syllable, letters then tone; polyphones read by phrase (and 长
as in place names); other text folded; written out by hand here, never computed a second way."""

from __future__ import annotations

import pytest

from projections.ordering import name_key
from service.demo.names import COMMUNITY_NAMES, REAL, TOWNS, VILLAGE_NAMES


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("长丰村", "chang2 feng1 cun1"),  # no phrase covers 长丰: the place-name reading
        ("长", "chang2"),
        ("长春", "chang2 chun1"),
        ("市长村", "shi4 zhang3 cun1"),  # the phrase 市长 reads it zhǎng
        ("长大村", "zhang3 da4 cun1"),
        ("重庆", "chong2 qing4"),  # polyphones other than 长, by phrase
        ("银行村", "yin2 hang2 cun1"),
        ("乐清", "yue4 qing1"),
        ("绿苑", "lv4 yuan4"),  # ü written v, which sorts between u and w
        ("村子", "cun1 zi5"),  # a neutral tone is 5, after the four
        ("Apple社区", "apple she4 qu1"),  # case ignored
        ("Äpfel社区", "apfel she4 qu1"),  # accents dropped
        ("\uff3a社区", "z she4 qu1"),  # a full-width Z as Z
        ("3号村", "3 hao4 cun1"),
        ("Zebra  Park社区", "zebra park she4 qu1"),  # spaces collapsed
        ("", ""),
    ],
)
def test_the_key_of_a_name(name: str, key: str) -> None:
    assert name_key(name) == key


def test_names_sort_as_a_dictionary_does_where_code_points_do_not() -> None:
    names = [
        "长丰村",
        "联丰村",
        "沙田村",
        "阿岙村",
        "安居村",
        "白沙村",
        "3号村",
        "A区",
        "Banana社区",
        "先锋村",
        "西安村",
    ]
    assert sorted(names) != sorted(names, key=name_key)
    assert sorted(names, key=name_key) == [
        "3号村",  # digits before letters
        "A区",  # "a " before "a1": a shorter syllable before a longer one it begins
        "阿岙村",
        "安居村",
        "白沙村",
        "Banana社区",
        "长丰村",
        "联丰村",
        "沙田村",
        "西安村",  # xi1 an1 before xian1: syllable by syllable
        "先锋村",
    ]


def test_tones_order_one_syllable() -> None:
    assert sorted(["骂", "马", "麻", "妈", "吗"], key=name_key) == ["妈", "麻", "马", "骂", "吗"]


def test_the_demo_names_read_as_their_hand_written_pinyin() -> None:
    # The demo spells each name's pinyin by hand (the ids are made from it): 虞波 yubo, 浒山 hushan, 长丰
    # changfeng … the key, without its tones and spaces, says the same.
    pairs = [*COMMUNITY_NAMES, *VILLAGE_NAMES, *((name, ident) for ident, name, *_ in TOWNS)]
    pairs += [(name, ident) for ident, name, _ in REAL]
    assert len(pairs) > 140
    for name, pinyin in pairs:
        assert "".join(c for c in name_key(name) if c.isalpha()) == pinyin, name
