"""The order a Chinese reader expects of names: by pinyin (拼音排序), as a key compared by code point.

`name_key` turns a name into ASCII syllables with their tone, in the name's order: 长丰村 is
"chang2 feng1 cun1", 阿岙 "a1 ao4", Apple社区 "apple she4 qu1". Compared as plain strings (Python's `<`,
PostgreSQL's `collate "C"`) the keys sort names syllable by syllable, each by its letters and then its tone,
as a dictionary does (阿 a1 < 安 an1 < 白 bai2; 妈 ma1 < 麻 ma2 < 马 ma3), the same on every server and in
every process: the key is text, not a collation. A list sorts by the key, then the name itself (code
points, so homophones such as 联丰村 and 莲丰村 never interleave), then the id.

The readings come from pypinyin, which reads a polyphone from the phrase it is part of (重庆 chong2, 银行
hang2, 市长 zhang3); a character no phrase of its dictionary covers takes its first reading, which for a
few characters is not the one place names use (see `PLACE_READINGS`). Text that is not Han (Latin letters,
digits, punctuation) is compared folded: full-width forms as ASCII, accents dropped, case ignored (a
full-width Z, z and Z alike; Äpfel as apfel); digits compare digit by digit and before every letter.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pypinyin import Style
from pypinyin.constants import PHRASES_DICT
from pypinyin.converter import UltimateConverter
from pypinyin.core import Pinyin

# Characters whose first reading in pypinyin's dictionary is not the one they have in place names, used
# where no phrase of the dictionary reads them otherwise: 长 is cháng in 长丰, 长街, 长河 (zhǎng, "to grow",
# "chief", stays where a phrase says so: 市长, 长大).
PLACE_READINGS = {"长": "cháng"}
# Runs of what the key leaves out (control characters, which no name holds) or reads as one space.
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


class _PlaceNames(UltimateConverter):
    """pypinyin's converter, with a neutral tone written 5 (so every Han syllable ends in a digit) and
    `PLACE_READINGS` where no phrase decides."""

    def __init__(self) -> None:
        super().__init__(neutral_tone_with_five=True)

    def post_pinyin(self, han: str, heteronym: bool, pinyin: list[list[str]], **kwargs: Any) -> Any:
        if han not in PHRASES_DICT and any(c in PLACE_READINGS for c in han):
            pinyin = [
                [PLACE_READINGS[c]] if c in PLACE_READINGS else p for c, p in zip(han, pinyin, strict=True)
            ]
        return super().post_pinyin(han, heteronym, pinyin, **kwargs)


_PINYIN = Pinyin(_PlaceNames())


def name_key(name: str) -> str:
    """The key `name` sorts by: its syllables (letters and tone: "chang2"), and its other text folded,
    separated by single spaces. A space sorts below every letter and digit, so a shorter syllable comes
    before a longer one it begins (西安 "xi1 an1" before 先 "xian1")."""
    # A syllable comes as "zhang3" or "lv4" (ü written v, between u and w), which folding leaves as it is.
    parts = (_folded(item) for item in _PINYIN.lazy_pinyin(name, style=Style.TONE3, errors="default"))
    return _SPACE.sub(" ", " ".join(parts)).strip()


def _folded(text: str) -> str:
    """Text that is not Han as the key compares it: compatibility forms as their plain letter (a
    full-width Z as Z), accents dropped, case folded."""
    plain = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    return "".join(c for c in plain if not unicodedata.combining(c)).casefold()
