"""Why a name holds, and the issue's check of a list of names (issue 21; the rules: ``name_words``).

``explain_name`` shows each objective word's coverage and the action's support (the report, the chat's
``/rename``); ``audit_names`` is what ``scripts/check_names.py`` checks: no proper noun, few rare words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dialin.tools.keywords import tokens as english_tokens
from dialin.tools.name_words import SET_OBJECTIVES, WordFacts, action_support, negation_share, proper_nouns, word_key
from dialin.tools.zh_person import zh_person_names


def explain_name(name: str, texts: Sequence[str], facts: WordFacts | None = None) -> str:
    """Why a name holds: each objective word and the share of members holding it; the action and the share
    of members whose wording does it. E.g. ``card 92% · lost 54% · action report 62% (of 13 members)``."""
    facts = facts or WordFacts(list(texts))
    action, _, objective = name.partition("-")
    cover = facts.coverage(texts)
    cover["not"] = negation_share(texts)
    parts = []
    for w in [w for w in re.split(r"_\d+$", objective)[0].split("_") if w]:
        c = cover.get(facts.key(w.lower()), 0.0)
        note = "" if facts.allowed(facts.key(w.lower())) else " (filler/proper noun/date)"
        parts.append(f"{w} {c:.0%}{note}")
    support = action_support(texts, [action]).get(action)
    parts.append(f"action {action} " + (f"{support:.0%}" if support is not None else "(not a known verb)"))
    return " · ".join(parts) + f" (of {len(texts)} members)"


def audit_names(named: Sequence[tuple[str, Sequence[str]]], corpus: Sequence[str],
                floor: float = 0.2) -> dict:
    """The issue's check of a list of names: (name, its members' sentences) pairs, the corpus for what is a
    proper noun. A member holds a word when the word (or its singular/plural) is one of its words.
    A verb form counts for its base (``failed`` / ``fails``: ``fail``) and ``not`` for any negation (``isn't``).
    Returns the names with a proper noun, those with a word held by fewer than ``floor`` of the members,
    and their share of all names."""
    proper = proper_nouns(corpus)
    persons = zh_person_names(corpus)  # Chinese has no capitals: names found where the text says so
    known = frozenset(w for t in corpus for w in english_tokens(t))  # the words a form may fold onto
    rare, names_of_people, set_words = [], [], []
    for name, texts in named:
        words = [w for w in re.split(r"_\d+$", name.partition("-")[2])[0].split("_") if w]
        if words and all(w in SET_OBJECTIVES for w in words):
            set_words.append(name)  # not the members' words: an act's addressee, a placeholder
            continue
        held = [set(re.findall(r"[a-z]+", t.lower())) for t in texts]
        keys = [{word_key(h, known) for h in hs} for hs in held]
        low = []
        for w in words:
            forms = {w, w + "s", w[:-1] if w.endswith("s") else w, w[:-1] + "ies" if w.endswith("y") else w,
                     w[:-3] + "y" if w.endswith("ies") else w}
            if re.search(r"[^\x00-\u024f]", w):  # Chinese and the like: no spaces, a member holds it as text
                share = sum(1 for t in texts if w in t) / max(1, len(texts))
            elif w == "not":  # not_working: any negation (isn't, can't, never)
                share = negation_share(texts)
            else:
                k = word_key(w, known)
                share = sum(1 for h, ks in zip(held, keys) if h & forms or k in ks) / max(1, len(held))
            if share < floor:
                low.append(f"{w} {share:.0%}")
        if low:
            rare.append({"name": name, "words": low, "members": len(texts)})
        if any(w in proper or (re.search(r"[^\x00-\u024f]", w) and persons.holds(w)) for w in words):
            names_of_people.append(name)
    n = max(1, len(named))
    return {"names": len(named), "proper_noun": names_of_people, "rare_word": rare,
            "rare_share": round(len(rare) / n, 4), "set_objective": set_words}


def facts_for(corpus: Sequence[str], language: str | None = None) -> WordFacts:
    """``WordFacts`` with the tokenizer of the corpus's language (detected when not given)."""
    from dialin.tools.language import detect_language, joins_words, tokenizer_for

    lang = language or detect_language(list(corpus))
    return WordFacts(corpus, tokenizer_for(lang), joined=joins_words(lang))


def explain_clusters(result: dict, facts: WordFacts | None = None) -> dict[int, str]:
    """``explain_name`` for every cluster of a run's result, by cluster id (the report and /rename show it)."""
    texts = result["unique_texts"]
    facts = facts or facts_for(texts)
    return {c["id"]: explain_name(c["name"], [texts[i] for i in c["members"]], facts) for c in result["clusters"]}
