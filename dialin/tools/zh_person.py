"""People's names in Chinese text, so that none becomes part of an intent name (issues 20, 21).

Chinese has no capital letters, so ``name_words.proper_nouns`` finds none. A name is found where the
text says it is one, offline and from the corpus itself:

- after an introduction: ``我叫胡军``, ``我是户主谢涛``, ``姓名陈静``, ``我的名字是何雪``, ``客服小吴``;
- a surname before an honorific: ``朱先生``, ``何女士`` (the surname ``朱``);
- a message that opens with a surname and a given name, then a comma and personal data:
  ``朱琳，生日5月13日``, ``谢涛，手机号...``.

``PersonNames.holds(word)`` says whether an n-gram is (part of) such a name or an honorific
(``先生``, ``女士``, ``小姐``): such a word never names a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
            "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤欧")
"""The commonest Chinese surnames (one character each)."""
HONORIFICS = ("先生", "女士", "小姐")
_HAN = "\u4e00-\u9fff"
_NAME = f"[{SURNAMES}][{_HAN}]{{1,2}}?"
_INTRO = re.compile(rf"(?:我叫|我是(?:户主|本人)?|名字是|名字叫|姓名是?|全名是|全名叫|叫做|客服|我姓)"
                    rf"(小[{_HAN}]|{_NAME})(?=[^{_HAN}]|$)")
_OPENING = re.compile(rf"^(?:好的[，,]\s*)?({_NAME})[，,](?=.*(?:\d|生日|手机|身份证|卡号|尾号|出生|证件))")
_HONOURED = re.compile(rf"([{SURNAMES}])(?:{'|'.join(HONORIFICS)})")


@dataclass(frozen=True)
class PersonNames:
    """The names (``胡军``, ``小吴``) and honoured surnames (``朱`` of ``朱先生``) a corpus holds."""

    names: frozenset[str]
    surnames: frozenset[str]

    def holds(self, word: str) -> bool:
        """Is ``word`` (an n-gram) a name, part of one, or an honorific with or without its surname?"""
        if any(h in word for h in HONORIFICS):
            return True
        if any(s + h[0] in word for s in self.surnames for h in HONORIFICS):
            return True
        return any(n[i:i + 2] in word for n in self.names for i in range(len(n) - 1))


def zh_person_names(corpus: Sequence[str]) -> PersonNames:
    """The people's names of a Chinese corpus (module doc)."""
    names: set[str] = set()
    surnames: set[str] = set()
    for text in corpus:
        names.update(m.group(1) for m in _INTRO.finditer(text))
        m = _OPENING.match(text)
        if m:
            names.add(m.group(1))
        surnames.update(m.group(1) for m in _HONOURED.finditer(text))
    return PersonNames(frozenset(names), frozenset(surnames))
