"""The namer: one `action-objective` intent name for a sample of sentences."""

from __future__ import annotations

import re

from dialin.agents.judge import format_sentences
from dialin.errors import ParseError
from dialin.llm.router import LLMRouter

_OBJ = "a-z0-9\u00df-\u00f6\u00f8-\u024f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
"""What an objective is written with: ASCII, accented Latin, Chinese, Japanese and Korean (issue 20)."""
NAME_RE = re.compile(f"^[a-z]+-[{_OBJ}]+(?:_[{_OBJ}]+)*$")


NAME_PATTERN = r"[a-z]{2,12}-[a-z]{2,14}(_[a-z]{2,14}){0,2}"
"""What a name may be: vLLM gets it as a regex, llama.cpp as the grammar below."""
_W = " ".join(["[a-z]"] * 2 + ["[a-z]?"] * 12)
NAME_GRAMMAR = f'root ::= act "-" w ("_" w)? ("_" w)?\nact ::= {" ".join(["[a-z]"] * 2 + ["[a-z]?"] * 10)}\nw ::= {_W}'


def normalise_name(raw: str) -> str:
    """Coerce an answer into `action-objective`: lower case, one hyphen, underscores inside.

    "Report Lost Card" -> report-lost_card; "inquire_balance" -> inquire-balance.
    """
    text = raw.strip().strip("\"'`.").lower()
    text = re.sub(f"[^{_OBJ}\\-_ /]+", " ", text)
    if "-" in text:
        action, _, objective = text.partition("-")
    else:
        parts = re.split(r"[ _/]+", text.strip(), maxsplit=1)
        action, objective = (parts + [""])[:2]
    action = re.sub(r"[^a-z]", "", action) or "other"
    objective = "_".join(w for w in re.split(f"[^{_OBJ}]+", objective) if w) or "unspecified"
    return f"{action}-{objective}"


def is_valid_name(name: str) -> bool:
    return bool(NAME_RE.match(name))


def disambiguate(names: list[str]) -> list[str]:
    """Make names unique: the second `x` becomes `x_2`, the third `x_3` (first keeps its name)."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out


ACTIONS = ("inquire", "request", "report", "dispute", "cancel", "activate", "reset", "update", "change", "close",
           "increase", "transfer", "apply", "complain", "thank", "confirm", "decline", "provide", "greet", "ask",
           "explain", "offer", "apologize", "inform", "check", "order")
"""The verbs a grounded name may start with."""


def grounded_pattern(keywords: list[str]) -> tuple[str, str]:
    """(regex, GBNF) for `action-objective` where the action is a known verb and the objective is one or
    two of the cluster's own key words: a small model then only chooses, it cannot ramble."""
    kws = [k for k in dict.fromkeys(keywords) if re.fullmatch(r"[a-z]+", k)]
    acts = " | ".join(f'"{a}"' for a in ACTIONS)
    words = " | ".join(f'"{k}"' for k in kws)
    grammar = f'root ::= act "-" kw ("_" kw)?\nact ::= {acts}\nkw ::= {words}'
    regex = f"({'|'.join(ACTIONS)})-({'|'.join(kws)})(_({'|'.join(kws)}))?"
    return regex, grammar


async def name_sample(router: LLMRouter, sentences: list[str], keywords: list[str] | None = None, *,
                      role: str = "namer", stage: str = "name", grounded: bool = False) -> str:
    """One `action-objective` name; the output is constrained to that shape where the backend allows.

    ``grounded``: the objective must be made of the cluster's key words (see ``grounded_pattern``).
    """
    variables = {"sentences": format_sentences(sentences), "keywords": ", ".join(keywords or []) or "(none)"}
    ascii_kws = [k for k in keywords or [] if re.fullmatch(r"[a-z]+", k)]  # the grammar is ASCII (issue 20)
    pattern = grounded_pattern(ascii_kws) if grounded and ascii_kws else (NAME_PATTERN, NAME_GRAMMAR)
    try:
        result = await router.complete(role, variables, pattern=pattern, stage=stage)
        raw = result.text
    except ParseError as exc:
        raw = exc.last_output or "other-unspecified"
    return normalise_name(raw)
