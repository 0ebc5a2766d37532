"""The corpus's language: detected from its text (or told), and the tokenizer that serves it (issue 20).

- ``detect_language``: ``zh`` (or ``ja`` / ``ko``) when most letters are CJK, else ``en``, ``es`` or
  ``mixed`` from the share of each language's commonest words.
- ``tokenizer_for``: English keeps dialin's ``[a-z]+`` key words exactly; Chinese (no spaces) gets jieba's
  words when jieba is installed (optional extra ``multilingual``; measured better than n-grams, BENCHMARKS
  18), else character bigrams and trigrams (no dependency; a 2-3 character window holds most Chinese
  words, and some fragments); other languages get Unicode words with their own stop words.
"""

from __future__ import annotations

import functools

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from dialin.tools.keywords import STOPWORDS
from dialin.tools.keywords import tokens as english_tokens

if TYPE_CHECKING:
    from dialin.config import Config

Tokenizer = Callable[[str], list[str]]

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
KANA = "\u3040-\u30ff"
HANGUL = "\uac00-\ud7af"
_CJK_RUN = re.compile(f"[{CJK}]+")
_UWORD = re.compile(r"[^\W\d_]+")

ES_STOPWORDS = frozenset("""
a al algo algún alguna como con cual cuando de del desde donde el ella ellos en entre era es esa ese eso esta
está estaba este esto estoy fue hay hola las le les lo los más me mi mis muy nada ni no nos o para pero por
porque que qué quien se sea ser si sí sin sobre su sus también tengo tiene todo tu tus un una uno unos usted
ya yo buenos buenas días tardes gracias favor vale bueno
""".split())
EN_MARKERS = frozenset("the and is you my to for it of what can have please how this that your with".split())
ES_MARKERS = frozenset("el la los las de que es mi por para con una gracias hola quiero tengo cómo qué usted".split())

ZH_PARTICLES = frozenset("的了吗呢吧啊么呀哦嘛我你您他她它是在一这那就也都和与把被给很太个们请")
"""Characters that begin or end no word a name would use (particles, pronouns, copulas)."""
ZH_STOP = frozenset("""
你好 您好 请问 一下 可以 什么 怎么 这个 那个 没有 我们 你们 已经 还有 是不 不是 的话 谢谢 好的 麻烦 不用 现在 因为
所以 但是 如果 然后 还是 这样 那样 知道 需要 帮我 帮您 为您 给您 您的 我的 一个 多少 时候 非常 感谢 不好 意思 再见
""".split())
"""Chinese n-grams that are filler, however common."""


def is_cjk(text: str) -> bool:
    return bool(_CJK_RUN.search(text))


def detect_language(texts: list[str], sample: int = 2000) -> str:
    """``zh`` / ``ja`` / ``ko`` / ``en`` / ``es`` / ``mixed`` (Spanish and English) for a corpus."""
    head = texts[:sample]
    joined = "\n".join(head)
    cjk = len(re.findall(f"[{CJK}]", joined))
    kana = len(re.findall(f"[{KANA}]", joined))
    hangul = len(re.findall(f"[{HANGUL}]", joined))
    latin = len(re.findall(r"[A-Za-z\u00c0-\u024f]", joined))
    if hangul > 0.3 * (hangul + cjk + latin + kana):
        return "ko"
    if cjk + kana > 0.3 * (cjk + kana + latin):
        return "ja" if kana > 0.1 * (cjk + kana) else "zh"
    words = [w.lower() for w in _UWORD.findall(joined)]
    en = sum(w in EN_MARKERS for w in words)
    es = sum(w in ES_MARKERS for w in words) + joined.count("¿") + joined.count("ñ")
    if en + es == 0:
        return "en"
    share = es / (en + es)
    return "en" if share < 0.1 else "es" if share > 0.9 else "mixed"


def cjk_tokens(text: str) -> list[str]:
    """Character bigrams and trigrams of each CJK run (none starting or ending with a particle, none a
    filler n-gram), and the English key words of any Latin text beside them (``APP``)."""
    out: list[str] = []
    for run in _CJK_RUN.findall(text):
        for n in (2, 3):
            for i in range(len(run) - n + 1):
                g = run[i:i + n]
                if g[0] not in ZH_PARTICLES and g[-1] not in ZH_PARTICLES and g not in ZH_STOP:
                    out.append(g)
    return out + english_tokens(_CJK_RUN.sub(" ", text))


_JIEBA_SKIP = re.compile(r"[\W\d_]")


def zh_word_tokens(text: str) -> list[str]:
    """Chinese words from the jieba segmenter (two characters or more, none a filler word nor made of particles
    only), and the English key words of any Latin text beside them. Measured against ``cjk_tokens`` in
    docs/BENCHMARKS.md section 18 (session 8)."""
    import jieba

    out = [w for w in jieba.lcut(text)
           if len(w) >= 2 and _CJK_RUN.fullmatch(w) and w not in ZH_STOP and not all(c in ZH_PARTICLES for c in w)]
    return out + english_tokens(_CJK_RUN.sub(" ", text))


@functools.cache
def has_jieba() -> bool:
    """Is jieba installed? (Asked once; its dictionary-loading chatter on stderr silenced.)"""
    try:
        import jieba
    except ImportError:
        return False
    jieba.setLogLevel(60)  # its dictionary-loading chatter on stderr
    return True


def unicode_tokens(text: str) -> list[str]:
    """Words of any alphabet (accents kept), lower case, three letters or more, no English or Spanish stop word."""
    return [w for w in (m.lower() for m in _UWORD.findall(text))
            if len(w) > 2 and w not in STOPWORDS and w not in ES_STOPWORDS]


def tokenizer_for(language: str) -> Tokenizer:
    """English: ``keywords.tokens`` as it always was; Chinese/Japanese: ``cjk_tokens``; else ``unicode_tokens``."""
    if language == "en":
        return english_tokens
    if language == "zh" and has_jieba():  # optional extra 'multilingual': whole words, not n-grams
        return zh_word_tokens
    if language in ("zh", "ja"):
        return cjk_tokens
    return unicode_tokens


def joins_words(language: str) -> bool:
    """Does the language write words without spaces (so overlapping n-grams are one word, not two)?"""
    return language in ("zh", "ja")


LANGUAGE_NAMES = {"en": "English", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "es": "Spanish",
                  "mixed": "Spanish and English"}
MULTILINGUAL_EMBEDDER = "use"
"""The embedder a language other than English gets when the config keeps the default (measured in
docs/BENCHMARKS.md, issue 20: USE multilingual v3 vs multilingual-e5-small on the Chinese corpus)."""


def language_of(config: Config, texts: list[str]) -> str:
    """The configured language, or the detected one when it is ``auto``."""
    lang = config.method.language
    return detect_language(texts) if lang == "auto" else lang


def resolve_language(texts: list[str], config: Config, told: str | None = None) -> tuple[Config, str | None]:
    """(the config for this corpus, a line saying what was chosen, or None for English).

    English leaves the config exactly as it is. Another language is written into ``method.language`` (the
    tokenizer follows it) and, when the config keeps the default English embedder, the embedder becomes the
    multilingual one.
    """
    from dialin.config import EmbedderConfig
    from dialin.errors import ConfigError

    lang = (told or config.method.language).strip().lower()
    if not re.fullmatch(r"auto|mixed|[a-z]{2,3}", lang):
        raise ConfigError(f"language '{lang}' is not a language code: use auto (detect), en, zh, es, mixed, "
                          "or another two-letter code")
    detected = lang == "auto"
    if detected:
        lang = detect_language(texts)
    if lang == "en":
        return config, None
    default = EmbedderConfig()
    keeps_default = config.embedder.kind == default.kind and config.embedder.model == default.model
    embedder = config.embedder.model_copy(update={"kind": MULTILINGUAL_EMBEDDER}) if keeps_default else config.embedder
    new = config.model_copy(update={"embedder": embedder,
                                    "method": config.method.model_copy(update={"language": lang})})
    words = {"zh": "jieba words" if has_jieba() else "character bigrams and trigrams (pip install jieba for words)",
             "ja": "character bigrams and trigrams"}.get(lang, "Unicode words")
    note = (f"language: {LANGUAGE_NAMES.get(lang, lang)} ({'detected' if detected else 'as told'}; "
            f"--language en to override); key words: {words}; embedder: "
            + (f"{MULTILINGUAL_EMBEDDER} (multilingual, instead of the English default)" if keeps_default
               else f"{config.embedder.kind} {config.embedder.model} (as configured)"))
    return new, note
