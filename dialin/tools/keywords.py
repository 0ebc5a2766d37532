"""Distinctive words of a cluster (class-based TF-IDF against the whole corpus).

Small namers name far better with a few key words beside the sentences.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

STOPWORDS = frozenset("""
a about after again all also am an and any are as at be been but by can could did do does doing don
for from get got had has have hello hi how i i'm im if in into is it it's its just like me my no not
now of ok okay on or our please so some than thank thanks that the their them then there these they
this to too up us was we were what whats when where which who why will with would yes you your
""".split())


def tokens(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2 and w not in STOPWORDS]


class KeywordIndex:
    """Document frequencies of a corpus; ``keywords(texts)`` ranks a cluster's words."""

    def __init__(self, corpus: Sequence[str], tokenize: Callable[[str], list[str]] = tokens) -> None:
        self.tokenize = tokenize  # English: tokens(); other languages: dialin/tools/language.py
        self.n = max(1, len(corpus))
        self.df = Counter(w for t in corpus for w in set(tokenize(t)))

    def keywords(self, texts: Sequence[str], k: int = 5) -> list[str]:
        tf = Counter(w for t in texts for w in self.tokenize(t))
        score = {w: c * math.log(1 + self.n / (1 + self.df.get(w, 0))) for w, c in tf.items()}
        return [w for w, _ in sorted(score.items(), key=lambda x: (-x[1], x[0]))[:k]]
