"""Which words may name a cluster, and which action fits what its members do (issue 21).

A name is for a taxonomy: its objective is made of words that most of the cluster's members
share (their *coverage*), never a person's or place's name, a number, a date or filler. Found
offline, from the corpus itself:

- **proper nouns**: a word written capitalised inside sentences in most of its occurrences
  (``Bennett``, ``Cardiff``, ``October``); all-caps acronyms (``PIN``, ``ATM``) are not;
- **dates, numbers, filler**: small fixed lists (``yep``, ``pls``, ``sorry``, ``try``, month and
  day names, number words); digits never form a word;
- **rare words**: a word held by fewer than ``MIN_COVER`` of the members is never chosen.

The action is a verb from ``ACTIONS`` that the members' own wording supports (a question is
an ``inquire``/``ask``, "I've lost" a ``report``, "thanks" a ``thank``), among the verbs of the
speaker's role when roles are known. A word is counted with its plural and its verb forms (``failed`` /
``fails`` -> ``fail``), written as most members write it, negated when most of its holders negate it
(``not_working``), and a name's words follow the members' word order (``exchange_rate``).
``dialin/tools/name_audit.py`` says why a name holds and checks a list of names.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field

from dialin.agents.namer import ACTIONS
from dialin.tools.keywords import tokens as english_tokens
from dialin.tools.zh_person import PersonNames, zh_person_names

MIN_COVER = 0.2
"""The least share of members that must hold an objective word (the issue's floor; 0.25 measured worse on 3 seeds, BENCHMARKS 18)."""
TOPIC_PROPER = 0.5
"""The least share of members holding a capitalised word for it to be the cluster's topic (a brand, a product)."""
MIN_ACT = 0.3
"""The least share of members whose wording supports an action for it to be a candidate."""
ACT_OUTRIGHT = 0.5
"""A conversational act (thank, greet, apologize, decline) this common names the cluster outright."""

FILLER = frozenset("""
yep yeah yup yes nope nah pls plz please sorry try trying tried ok okay cheers thanks thank thx ta great lovely
brilliant perfect cool sure right well ahead ideally sorted happened luck enjoy welcome wait hmm umm erm uh
actually really just bit lot thing things something anything everything nothing maybe literally basically still
already also even though ever never again back much many very quite lot lots kind sort mean guess think thought
want wanted need needed bye goodbye hey hiya morning afternoon evening today tonight yesterday tomorrow ago soon
later earlier now asap mate sir madam miss mrs mr ms dear hold line moment minute minutes hour hours
day days week weeks month months year years able sounds sound fine good bad nice awesome fab ended
ending earning told tell say said says know knew let lets got get getting gonna wanna gotta one two three four
five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred thousand million
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december jan feb mar apr jun jul aug sep sept oct nov dec
""".split())
"""Filler, dates and numbers: never an objective word. Ordinals are not numbers read out (``second`` card,
``third`` party, ``first`` payment): the coverage floor keeps a passing "wait a second" out (BENCHMARKS 18, session 9)."""
FILLER_DATES = frozenset("""
monday tuesday wednesday thursday friday saturday sunday january february march april june july august
september october november december
""".split())

AGENT_ROLES = frozenset({"agent", "assistant", "bot", "system", "staff", "operator", "support", "rep",
                         "representative", "advisor", "adviser", "employee"})
CUSTOMER_ROLES = frozenset({"customer", "user", "client", "caller", "human", "guest", "member", "visitor"})
AGENT_ONLY = frozenset({"explain", "offer", "apologize", "inform"})
CUSTOMER_ONLY = frozenset({"inquire", "request", "report", "dispute", "cancel", "activate", "reset", "update",
                           "change", "increase", "transfer", "apply", "complain", "order"})
CONVERSATIONAL = ("thank", "greet", "apologize", "decline")

_Q = r"(?:^|[.!?]\s+)(?:how|what|whats|when|where|why|which|who|can|could|is|are|do|does|did|will|would|should|have|has)\b"
ACTION_CUES: dict[str, str] = {
    "inquire": rf"\?|{_Q}|\b(?:wondering|want to know|wanted to know|tell me)\b",
    "ask": rf"\?|{_Q}|\b(?:can i (?:take|have|get)|could you (?:confirm|tell|give)|may i)\b",
    "request": r"\b(?:i'd like|i would like|i want|i need|can you|could you|can i get|send me|please)\b",
    "report": r"\b(?:lost|stolen|missing|not working|doesn't work|isn't working|won't|can't|cannot|couldn't|"
              r"error|crash\w*|broken|wrong|never arrived|hasn't arrived|failed|declined|stuck|problem|issue)\b",
    "dispute": r"\bdisput\w*|\bcharged twice\b|\bdidn't (?:make|authori[sz]e|buy)\b|\bchargeback\b",
    "cancel": r"\bcancel\w*", "activate": r"\bactivat\w*", "reset": r"\breset\w*", "update": r"\bupdat\w*",
    "change": r"\bchang\w*", "close": r"\bclos(?:e|ed|ing|ure)\b|\bhave a (?:good|great|lovely|nice)\b|\bgoodbye\b|\bbye\b",
    "increase": r"\bincreas\w*|\braise\b|\bhigher\b", "transfer": r"\btransfer\w*|\bsend money\b",
    "apply": r"\bappl(?:y|ied|ying|ication)\b", "complain": r"\bcomplain\w*|\bunacceptable\b|\bridiculous\b",
    "order": r"\border\w*", "check": r"\bcheck\w*|\bverif\w*",
    "thank": r"\bthank\w*|\bthanx\b|\bthnx\b|\bthx\b|\bty\b|\btysm\b|\bcheers\b|\bappreciate\w*|\bta\b",
    "greet": r"^\s*(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening))\b|\bspeaking with\b|\bhow can i help\b",
    "apologize": r"\bsorry\b|\bapolog\w*",
    "decline": r"^\s*(?:no|nope|nah)\b|\bthat's all\b|\bthats all\b|\bnothing else\b|\ball good\b|\bno thanks?\b",
    "confirm": r"^\s*(?:yes|yeah|yep|yup|sure|correct|right|ok|okay)\b|\bthat's right\b|"
               r"\bhas been\b|\bhave been\b|\bdone\b|\ball set\b",
    "provide": r"\d|\bmy (?:name|address|date|postcode|number|email|phone)\b|\bit's\b|\bits\b|\bthe (?:rate|balance|fee)\b",
    "explain": r"\byou can\b|\byou'll\b|\byou will\b|\byou need\b|\bit takes\b|\bbecause\b|\busually\b|\bnormally\b|\bwhat happens\b",
    "offer": r"\banything else\b|\bis there anything\b|\bwould you like\b|\bcan i help\b|\bi can also\b",
    "inform": r"\bjust to let you know\b|\bplease note\b|\bfyi\b|\bbe aware\b",
}
ZH_ACTION_CUES: dict[str, str] = {
    "inquire": r"？|吗|请问|多少|怎么|什么|几天|是否|能不能|可不可以|想知道|想了解|查一下|查询|查查",
    "ask": r"？|吗|请问您|请提供|请告诉|麻烦您|核实|验证",
    "request": r"想要|我要|请帮|帮我|麻烦|申请|能帮",
    "report": r"丢|被偷|不见|被吞|闪退|报错|打不开|出错|异常|没收到|收不到|盗刷|被骗|不是我|故障",
    "dispute": r"争议|异议|重复扣|扣了两次|两次|多收|扣费",
    "cancel": r"注销|销卡|取消", "activate": r"激活|开通", "reset": r"重置|忘记|忘了|重新设置",
    "update": r"更新|修改|更改|改成|改一下|改地址", "change": r"更改|修改|换",
    "increase": r"提高|提额|调高|提升|加点|额度", "transfer": r"转账|汇款|转了|汇出",
    "apply": r"申请", "complain": r"投诉", "order": r"订购|下单", "check": r"核实|查",
    "thank": r"谢|感谢", "greet": r"^(?:您好|你好|早上好|下午好|晚上好)|欢迎|为您服务|很高兴为您",
    "apologize": r"抱歉|对不起|不好意思", "decline": r"^(?:没有|没了|不用|暂时没有|别的没|其他都没|就这样)",
    "confirm": r"已经|已|办好|生效|好了|通过", "provide": r"\d|我叫|名字是|姓名|余额是|利率是|价是|汇率是|查到了",
    "explain": r"您可以|建议|一般|如果|需要|请先", "offer": r"还有.*(?:吗|帮|问题|业务|疑问)|还需要",
    "close": r"再见|祝您", "inform": r"提醒您|请注意",
}
"""The same acts in Chinese (a verb list in English, the members' wording in their language)."""
FAREWELL = re.compile(r"\bbye\b|\bgoodbye\b|\bhave a (?:good|great|lovely|nice|safe)\b|\btake care\b|\benjoy (?:the|your)\b|"
                      + ZH_ACTION_CUES["close"], re.IGNORECASE)
"""A farewell: a cluster most of whose members say it is ``close-conversation`` (not closing an account)."""
_CUES = {a: re.compile(p + ("|" + ZH_ACTION_CUES[a] if a in ZH_ACTION_CUES else ""), re.IGNORECASE)
         for a, p in ACTION_CUES.items()}


def plural_key(word: str, known: Container[str]) -> str:
    """``word``'s singular when ``known`` holds it (``cards`` -> ``card``, ``currencies`` -> ``currency``), else ``word``."""
    if len(word) > 4 and word.endswith("ies") and word[:-3] + "y" in known:
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss") and word[:-1] in known:
        return word[:-1]
    return word


CONTRACTED = frozenset("isn aren wasn weren doesn didn hasn haven hadn couldn wouldn shouldn mustn needn".split())
"""What is left of ``isn't``, ``didn't``... when ``'t`` is cut off: a negation (``not_``), never a word of its own."""
CURRENCY_CODES = frozenset("""
usd eur gbp jpy aud cad chf cny rmb hkd nzd sek nok dkk pln czk huf inr rub brl mxn zar sgd krw thb idr myr php ils aed sar
""".split())
"""Currency codes name amounts, as numbers and dates do: ``change-aud_gbp`` is an instance, ``exchange_currency`` the
intent (BENCHMARKS 18, session 10)."""


def verb_key(word: str, known: Container[str]) -> str:
    """A regular verb form's base when ``known`` holds it (``failed`` / ``failing`` -> ``fail``, ``exchanging``
    -> ``exchange``, ``transferred`` -> ``transfer``, ``applied`` -> ``apply``), else ``word``. Filler keeps its
    own form (``ending`` is filler, ``end`` is not)."""
    if word in FILLER or len(word) < 5:
        return word
    if word.endswith("ied"):
        stems = [word[:-3] + "y"]
    elif word.endswith("ed"):
        stems = [word[:-1], word[:-2]]  # charged -> charge, failed -> fail
    elif word.endswith("ing"):
        stems = [word[:-3] + "e", word[:-3]]  # exchanging -> exchange, failing -> fail
    else:
        return word
    base = stems[-1]
    if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsez":
        stems.append(base[:-1])  # transferred -> transfer, shipping -> ship
    return next((s for s in stems if len(s) >= 3 and s in known and s not in FILLER), word)


def word_key(word: str, known: Container[str]) -> str:
    """The form a word is counted as: its singular, then its verb's base (``plural_key``, ``verb_key``)."""
    return verb_key(plural_key(word, known), known)


_WORD = re.compile(r"[^\W\d_]+")
_SENTENCE_END = re.compile(r"[.!?:;\"(\n]\s*$")
_NEGATOR = re.compile(r"(?:not|never|cannot|cant|dont|doesnt|didnt|isnt|wasnt|arent|werent|wont|hasnt|havent|hadnt|"
                      r"couldnt|wouldnt|shouldnt|aint|.+n['’]t)")
NEG_WINDOW = 2
"""A word is negated when a negator (``not``, ``never``, ``isn't``, ``can't``, ...) is one of the two words before it;
``no`` is not one (``no problem``, ``no fee``: an absence, not a negated word)."""


def _apostrophe_words(text: str) -> list[str]:
    return re.findall(r"[a-z]+(?:['’][a-z]+)?", text.lower())


def negated(text: str) -> set[str]:
    """The words of ``text`` that a negator just before them negates (``not working``, ``isn't correct``)."""
    words = _apostrophe_words(text)
    return {w for i, w in enumerate(words) if any(_NEGATOR.fullmatch(v) for v in words[max(0, i - NEG_WINDOW):i])}


def negation_share(texts: Sequence[str]) -> float:
    """The share of ``texts`` that negate something (a negator anywhere): how many hold the word ``not``."""
    return sum(1 for t in texts if any(_NEGATOR.fullmatch(w) for w in _apostrophe_words(t))) / max(1, len(texts))


def role_kind(role: str | None) -> str | None:
    """``customer`` / ``agent`` for a role column's value, or None when it is neither."""
    r = (role or "").strip().lower()
    return "agent" if r in AGENT_ROLES else "customer" if r in CUSTOMER_ROLES else None


def role_actions(role: str | None) -> list[str]:
    """The verbs a cluster of this role may be named with (all of ``ACTIONS`` when the role is unknown)."""
    kind = role_kind(role)
    drop = CUSTOMER_ONLY if kind == "agent" else AGENT_ONLY if kind == "customer" else frozenset()
    return [a for a in ACTIONS if a not in drop]


def proper_nouns(corpus: Sequence[str], share: float = 0.5) -> frozenset[str]:
    """Words written ``Capitalised`` in at least ``share`` of their occurrences inside a sentence."""
    inside, capital = Counter(), Counter()
    for text in corpus:
        for m in _WORD.finditer(text):
            w = m.group()
            before = text[:m.start()]
            if not before.strip() or _SENTENCE_END.search(before):
                continue  # a sentence's first word says nothing
            key = w.lower()
            inside[key] += 1
            if w[0].isupper() and (len(w) == 1 or w[1:].islower()):
                capital[key] += 1
    return frozenset(w for w, n in inside.items() if w != "i" and capital[w] >= share * n)


@dataclass
class WordFacts:
    """What the corpus says about its words: document frequency, proper nouns, the tokenizer."""

    corpus: Sequence[str]
    tokenize: Callable[[str], list[str]] = english_tokens
    proper: frozenset[str] = field(default=frozenset())
    joined: bool = False
    """The language writes words without spaces: overlapping n-grams are parts of one word."""
    persons: PersonNames | None = None
    """People's names in a language with no capitals (Chinese: ``zh_person.zh_person_names``)."""

    def __post_init__(self) -> None:
        self.n = max(1, len(self.corpus))
        self.df = Counter(w for t in self.corpus for w in set(self.tokenize(t)))
        if not self.proper:
            self.proper = proper_nouns(self.corpus)
        if self.joined and self.persons is None:
            self.persons = zh_person_names(self.corpus)

    def key(self, word: str) -> str:
        """A plural folded onto its singular and a verb form onto its base when the corpus has both (``cards`` ->
        ``card``, ``currencies`` -> ``currency``, ``failed`` -> ``fail``: BENCHMARKS 18, session 10)."""
        return word_key(word, self.df)

    def allowed(self, word: str) -> bool:
        """May this word be part of a name (not filler, a date, a number or a proper noun)?"""
        if word in CONTRACTED or word in CURRENCY_CODES:
            return False
        return (word not in FILLER and word not in self.proper and not any(c.isdigit() for c in word)
                and not (self.persons is not None and self.persons.holds(word)))

    def topic(self, word: str, cover: float) -> bool:
        """A capitalised word most members hold is what the cluster is about (``Visa``, ``Apple`` Pay), not
        someone's name or address: people give their own names, so one name is held by few members."""
        return cover >= TOPIC_PROPER and word in self.proper and word not in FILLER

    def member_words(self, texts: Sequence[str]) -> list[set[str]]:
        return [{self.key(w) for w in self.tokenize(t)} for t in texts]

    def coverage(self, texts: Sequence[str]) -> dict[str, float]:
        """The share of ``texts`` that hold each word."""
        sets = self.member_words(texts)
        counts = Counter(w for s in sets for w in s)
        return {w: c / max(1, len(sets)) for w, c in counts.items()}

    def objective_words(self, texts: Sequence[str], k: int = 6,
                        min_cover: float = MIN_COVER) -> list[tuple[str, float]]:
        """The cluster's best objective words with their coverage: allowed, held by at least ``min_cover``
        of the members (and by two when there are two), ranked by coverage x rarity in the corpus. A word is
        counted with its plural (``card`` / ``cards``) and written as most members write it (``transactions``)."""
        cover = self.coverage(texts)
        least = max(min_cover, min(2, len(texts)) / max(1, len(texts)) - 1e-9)
        ok = [(w, c) for w, c in cover.items() if c >= least and (self.allowed(w) or self.topic(w, c))]
        score = {w: c * math.log(1 + self.n / (1 + self.df.get(w, 0))) for w, c in ok}
        ranked = sorted(ok, key=lambda x: (-score[x[0]], x[0]))
        if self.joined:  # 信用卡 holds 信用 and 用卡: keep the best of overlapping n-grams only
            kept: list[tuple[str, float]] = []
            for w, c in ranked:
                if not any(w in v or v in w or w[:-1] == v[1:] or v[:-1] == w[1:] for v, _ in kept):
                    kept.append((w, c))
            ranked = kept
        spelt = self.spellings(texts)
        nots = set() if self.joined else self.negations(texts, least)
        return [(("not_" if w in nots else "") + spelt.get(w, w), c) for w, c in ranked[:k]]

    def negations(self, texts: Sequence[str], least: float) -> set[str]:
        """Words (``key``) that at least half their holders negate, and ``least`` of all members: the name says
        ``not_working``, never the opposite of what the members say (``isn't correct`` is not ``correct``)."""
        held, neg = Counter(), Counter()
        for t, words in zip(texts, self.member_words(texts)):
            negs = {self.key(w) for w in negated(t)}
            for w in words:
                held[w] += 1
                neg[w] += w in negs
        n = max(1, len(texts))
        return {w for w, c in neg.items() if c >= 0.5 * held[w] and c / n >= least}

    def spellings(self, texts: Sequence[str]) -> dict[str, str]:
        """Each word's (``key``) form that most of ``texts`` write; a tie keeps the singular."""
        forms: dict[str, Counter] = {}
        for t in texts:
            for w in set(self.tokenize(t)):
                forms.setdefault(self.key(w), Counter())[w] += 1
        return {k: max(c, key=lambda w: (c[w], w == k)) for k, c in forms.items()}

    def phrase_order(self, words: Sequence[str], texts: Sequence[str]) -> tuple[str, ...]:
        """``words`` in the order the members write them (``exchange rate``, not ``rate exchange``): a word goes
        before another when more members holding both write it first; a tie keeps the given order."""
        if len(words) < 2 or self.joined:
            return tuple(words)
        keys = [self.key(w.removeprefix("not_")) for w in words]
        firsts = []
        for t in texts:
            pos: dict[str, int] = {}
            for i, w in enumerate(self.tokenize(t)):
                pos.setdefault(self.key(w), i)
            firsts.append(pos)
        def wins(i: int) -> int:
            return sum(1 for j in range(len(words)) if j != i and
                       sum((p[keys[i]] < p[keys[j]]) - (p[keys[i]] > p[keys[j]]) for p in firsts
                           if keys[i] in p and keys[j] in p) > 0)
        order = sorted(range(len(words)), key=lambda i: (-wins(i), i))
        return tuple(words[i] for i in order)

    def word_ok(self, word: str, cover: dict[str, float], min_cover: float = MIN_COVER) -> bool:
        """The rules for a word a namer model proposed: allowed, and either held by ``min_cover`` of the
        members or not a corpus word at all (an abstraction such as ``balance``, not a rare word of a few)."""
        w = self.key(word)
        if not self.allowed(w):
            return False
        return cover.get(w, 0.0) >= min_cover or (w not in self.df and word not in self.df)


def action_support(texts: Sequence[str], actions: Sequence[str] = ACTIONS) -> dict[str, float]:
    """The share of ``texts`` whose wording does each action (see ``ACTION_CUES``)."""
    n = max(1, len(texts))
    return {a: sum(1 for t in texts if _CUES[a].search(t)) / n for a in actions if a in _CUES}


def candidate_actions(texts: Sequence[str], role: str | None, cued: bool = False) -> tuple[list[str], str | None]:
    """(the actions the members support within the role's verbs, or all the role's verbs when none is;
    a conversational act common enough to name the cluster outright, or None). ``cued``: only supported
    verbs even when no role is known (Chinese: an English verb beside Chinese words is a poor embedding
    match, the members' wording a better guide; BENCHMARKS 18, session 8)."""
    allowed = role_actions(role)
    support = action_support(texts, allowed)
    outright = max((a for a in CONVERSATIONAL if a in support), key=lambda a: support[a], default=None)
    if outright and support[outright] >= ACT_OUTRIGHT and support[outright] >= max(support.values()):
        return [outright], outright
    farewell = sum(1 for t in texts if FAREWELL.search(t)) / max(1, len(texts))
    if "close" in allowed and farewell >= ACT_OUTRIGHT and farewell >= max(support.values(), default=0.0):
        return ["close"], "close"
    everyday = [a for a in allowed if a not in CONVERSATIONAL]
    if role_kind(role) is None and not cued:  # no role known: any verb, the embedding chooses (measured: restricting
        return everyday, None    # to cue-supported verbs lost 0.04-0.07 of the namer check, BENCHMARKS 12)
    supported = [a for a in everyday if support.get(a, 0.0) >= MIN_ACT]
    return (supported or everyday), None


ZH_SET_OBJECTIVES = {"agent": "客服", "customer": "客户", "you": "您", "offer": "其他帮助", "conversation": "对话",
                     "personal_details": "个人信息", "unspecified": "未明"}
"""The objectives dialin sets, in Chinese: a name's objective is in the corpus's language (issue 20)."""
SET_OBJECTIVES = frozenset({"agent", "customer", "you", "offer", "conversation", "personal", "details", "unspecified",
                            *ZH_SET_OBJECTIVES.values()})
"""Objectives dialin sets itself, not words taken from the members: a conversational act's addressee
(``thank-agent``), personal data (``provide-personal_details``), or none found (``unspecified``)."""


def names_share(texts: Sequence[str], facts: WordFacts) -> float:
    """The share of ``texts`` that hold a person's or place's name (a proper noun; in Chinese a name found by
    ``zh_person``)."""
    def named(t: str) -> bool:
        if any(m.lower() in facts.proper for m in _WORD.findall(t)):
            return True
        return facts.persons is not None and any(n in t for n in facts.persons.names)
    return sum(1 for t in texts if named(t)) / max(1, len(texts))


def local_objective(words: tuple[str, ...], facts: WordFacts) -> tuple[str, ...]:
    """A set objective (``("personal", "details")``) in the corpus's language: Chinese when its words are
    written without spaces (``个人信息``), else as it is."""
    if not facts.joined:
        return words
    return (ZH_SET_OBJECTIVES.get("_".join(words), "_".join(words)),)


def personal_data(texts: Sequence[str], facts: WordFacts, share: float = 0.5) -> bool:
    """Do at least ``share`` of the members hold a proper noun, a number or a date (someone giving their details)?"""
    held = sum(1 for t in texts if re.search(r"\d", t) or any(w in facts.proper or w in FILLER_DATES
                                                                for w in (m.lower() for m in _WORD.findall(t))))
    return held >= share * max(1, len(texts))


def act_objective(action: str, role: str | None) -> str:
    """The objective of a conversational act: a decline turns down an ``offer``; thanks, greetings and
    apologies are addressed to the other party (the other role, or ``you``)."""
    if action == "decline":
        return "offer"
    if action == "close":  # a farewell (``FAREWELL``)
        return "conversation"
    return {"customer": "agent", "agent": "customer"}.get(role_kind(role) or "", "you")
