"""Questions in plain language, matched to one inspector tool call the run can answer.

A small local model cannot drive a tool loop (it writes its calls as JSON text), and
most questions about a run are answered by the run itself. So a question goes through:

1. patterns: edits ("merge 3 and 7", "rename 12 to report-lost_card", "split 5 in two",
   "move #40 to 4") and common questions ("how many ...", "what is in cluster 3",
   "which clusters are about cards", "where did \\"...\\" go", ...);
2. else semantic search with the run's embedder: the question against example
   phrasings of each kind of question;
3. when that is not clear-cut, the model picks one of the three best candidate calls
   (a constrained choice: it answers a number, nothing else); with no model (or no answer
   in time), the best candidate above a floor is taken, and below it a plain sentence
   says what can be asked.

The result is a ``Call`` (a tool name and its arguments): read-only tools are answered
at once; edits go through the tool node, which asks the person to confirm.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dialin.inspect.run_view import RunView

EDITS = {"rename_cluster", "merge_clusters", "split_cluster", "move_utterance", "rejudge_cluster", "export_run"}
"""Tools that change the run (or write files): they ask the person before they act."""

Chooser = Callable[[str, list[str]], int | None]
"""(question, option descriptions) -> index of the chosen option, or None."""


@dataclass
class Call:
    tool: str
    """A tool name (``count``, ``show_cluster``, ``merge_clusters`` ...) or ``undo``."""
    args: dict[str, Any] = field(default_factory=dict)
    via: str = "pattern"
    """How it was found: pattern, semantic, model or fallback."""

    def text(self) -> str:
        return f"{self.tool}({', '.join(f'{k}={v!r}' for k, v in self.args.items())})"


# -- pieces of a question ------------------------------------------------------------------
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "half": 2, "halves": 2, "parts": 2}
_CID = r"(?:cluster\s+|#c|c)?(\d+)"
_QUOTED = re.compile(r"[\"“”](.+?)[\"“”]|(?:^|\s)'(.+?)'(?=\s|[?.!,]*$)")


def quoted(q: str) -> str | None:
    m = _QUOTED.search(q)
    return (m.group(1) or m.group(2)).strip() if m else None


def cluster_ids(q: str) -> list[int]:
    """Numbers that name clusters: not ``#N`` (an utterance), not inside a quote."""
    q = _QUOTED.sub(" ", q)
    return [int(m.group(1)) for m in re.finditer(r"(?<![#\w.])(\d+)(?![\w.])", q)]


def named_cluster(q: str, view: RunView) -> int | None:
    low = q.lower()
    for c in sorted(view.result()["clusters"], key=lambda c: -len(c["name"])):
        if c["name"].lower() in low:
            return int(c["id"])
    return None


_TOPIC = re.compile(r"\b(?:about|regarding|related to|to do with|concerning|covers?|covering|handles?|for|on|"
                    r"mention(?:s|ing)?|with)\s+(.+?)[\s?.!]*$")


def topic_of(q: str) -> str | None:
    m = _TOPIC.search(q)
    if not m:
        return None
    t = re.sub(r"^(?:the|a|an|any|some)\s+", "", m.group(1).strip(" '\""))
    return t or None


# -- edits -------------------------------------------------------------------------------------
def _edit(q: str, view: RunView) -> Call | None:
    low = q.lower().strip()
    if re.match(r"^(?:please\s+)?(?:undo|revert|roll\s*back)\b", low):
        return Call("undo")
    m = re.search(rf"\bmerge\s+{_CID}\s+into\s+{_CID}", low)
    if m:
        return Call("merge_clusters", {"a": int(m.group(2)), "b": int(m.group(1)), "name": None})
    m = re.search(rf"\b(?:merge|combine|join)\s+(?:clusters?\s+)?{_CID}\s*(?:and|with|&|,|\+)\s*{_CID}"
                  r"(?:\s+(?:as|named|called|into)\s+['\"]?([\w-]+))?", low)
    if m:
        return Call("merge_clusters", {"a": int(m.group(1)), "b": int(m.group(2)), "name": m.group(3)})
    m = re.search(rf"\b(?:rename|call|name)\s+{_CID}\s+(?:to\s+|as\s+|into\s+|=\s*)?['\"]?([\w-]+)['\"]?", q,
                  re.IGNORECASE) or re.search(rf"\bname of {_CID} to\s+['\"]?([\w-]+)", q, re.IGNORECASE)
    if m:
        return Call("rename_cluster", {"cluster_id": int(m.group(1)), "name": m.group(2)})
    m = re.search(rf"\bsplit\s+{_CID}(?:\s+(?:in|into)\s+(\d+|\w+))?", low)
    if m:
        k = m.group(2)
        k = int(k) if k and k.isdigit() else NUMBER_WORDS.get(k or "", 2)
        return Call("split_cluster", {"cluster_id": int(m.group(1)), "k": k})
    m = re.search(r"\bmove\s+(.+?)\s+(?:to|into)\s+(?:cluster\s+)?(-?\d+|unassigned)\s*[.!]?$", q, re.IGNORECASE)
    if m:
        what = quoted(m.group(1)) or re.sub(r"^(?:the\s+)?(?:utterance|sentence)\s+", "", m.group(1).strip())
        to = -1 if m.group(2).lower() == "unassigned" else int(m.group(2))
        return Call("move_utterance", {"utterance": what, "to_cluster": to})
    m = re.search(rf"\b(?:re-?judge|judge\s+{_CID}\s+again)(?:\s+{_CID})?", low)
    if m and (m.group(1) or m.group(2)):
        return Call("rejudge_cluster", {"cluster_id": int(m.group(1) or m.group(2))})
    m = re.search(r"\bexport\b.*?\b(?:to|into|in)\s+(\S+)$", q, re.IGNORECASE)
    if m:
        return Call("export_run", {"out_dir": m.group(1).strip("'\"")})
    return None


# -- questions ---------------------------------------------------------------------------------
def _one_cluster(q: str, view: RunView) -> int | None:
    ids = cluster_ids(q)
    if ids:
        return ids[0]
    return named_cluster(q, view)


def _about_cluster(q: str, view: RunView) -> int | None:
    """The cluster a question means: by id, by name, else the one most about its topic."""
    cid = _one_cluster(q, view)
    if cid is not None:
        return cid
    from dialin.inspect.run_answers import best_about

    topic = topic_of(q) or re.sub(r"\b(?:cluster|clusters|what|which|is|in|the|show|me|did|judge)\b", " ", q)
    c = best_about(view, topic)
    return int(c["id"]) if c else None


def _count(q: str, view: RunView) -> Call | None:
    low = q.lower()
    if re.search(r"unassigned|left\s*over|not (?:been )?assigned|unclustered|no cluster|outliers?|noise", low):
        return Call("count", {"what": "unassigned"})
    if re.search(r"\b(?:not|un)[- ]?judged|without a verdict", low):
        return Call("count", {"what": "unjudged"})
    m = re.search(r"\b(good|bad|rejected|accepted|coherent|incoherent)\b", low)
    if m and "cluster" in low:
        good = m.group(1) in ("good", "accepted", "coherent")
        return Call("count", {"what": "good" if good else "bad"})
    if "merge" in low:
        return Call("count", {"what": "merges"})
    cid = _one_cluster(q, view)
    if cid is not None and re.search(r"utterances|rows|sentences|members|examples|messages|turns|in", low):
        return Call("cluster_size", {"cluster_id": cid})
    if re.search(r"clusters|intents|groups|topics", low):
        return Call("count", {"what": "clusters"})
    if re.search(r"utterances|rows|sentences|messages|turns|lines|data", low):
        return Call("count", {"what": "utterances"})
    return None


def _question(q: str, view: RunView) -> Call | None:
    low = q.lower()
    said = quoted(q)
    index = re.search(r"#(\d+)\b", q)
    if (said or index) and re.search(r"\b(?:where|which|what)\b|\bgo\b|\bwent\b|\bland|\bend(?:ed)? up|assigned",
                                     low):
        return Call("find_utterance", {"utterance": said if said else f"#{index.group(1)}"})
    ids = cluster_ids(q)
    if re.search(r"\b(?:compare|differ|difference|versus|vs)\b", low) and len(ids) >= 2:
        return Call("compare_clusters", {"a": ids[0], "b": ids[1]})
    if re.search(r"\b(?:similar|alike|close|closest|overlap\w*|duplicates?|confus\w*|redundant|near)\b", low):
        cid = _one_cluster(q, view)
        return Call("similar_clusters", {"cluster_id": cid} if cid is not None else {})
    if re.search(r"\b(?:how many|number of|count)\b", low):
        call = _count(q, view)
        if call:
            return call
    if re.search(r"\b(?:judge|judged|verdict|votes?|why)\b", low) and not re.search(r"\b(?:which|list|all)\b", low):
        cid = _about_cluster(q, view)
        if cid is not None:
            return Call("judge_view", {"cluster_id": cid})
    if re.search(r"\b(?:how big|how large|size of|sized?)\b", low):
        cid = _one_cluster(q, view)
        return Call("cluster_size", {"cluster_id": cid}) if cid is not None else Call("count", {"what": "utterances"})
    m = re.search(r"\b(largest|biggest|most common|most frequent|smallest|tiniest|least common|rarest)\b", low)
    if m:
        return Call("extreme_clusters", {"largest": m.group(1) in ("largest", "biggest", "most common",
                                                                     "most frequent")})
    if re.search(r"\bcalled\b|\bname of\b|\bnamed\b", low) and ids:
        return Call("cluster_name", {"cluster_id": ids[0]})
    if re.search(r"\b(?:what(?:'s| is| are)? in|show|contain\w*|examples?|members|look like|inside|about)\b", low) \
            and (ids or named_cluster(q, view) is not None or re.search(r"\bthe\b.*\b(?:cluster|intent)\b", low)):
        cid = _about_cluster(q, view)
        if cid is not None:
            return Call("show_cluster", {"cluster_id": cid, "max_members": 10})
    m = re.search(r"\b(?:find|search|show me|look for|list)\s+(?:the\s+)?(?:utterances|sentences|messages|"
                  r"examples|turns)\b", low)
    if m:
        topic = said or topic_of(q)
        if topic:
            return Call("search_utterances", {"query": topic, "mode": "semantic", "limit": 10})
    if "cluster" in low or re.search(r"\b(?:intents?|groups?)\b", low):
        verdict = re.search(r"\b(good|bad|unjudged)\b", low)
        topic = topic_of(q)
        if topic and not verdict:
            return Call("clusters_about", {"topic": topic})
        if re.search(r"\b(?:list|all|what|which|show)\b", low):
            return Call("list_clusters", {"verdict": verdict.group(1) if verdict else "any", "limit": 20})
    if re.search(r"\b(?:summar\w*|overview|describe the run|about the run|how did the run go|status)\b", low):
        return Call("run_summary")
    if re.search(r"\b(?:nmi|ari|accuracy|acc|gold|metrics?|score)\b", low):
        return Call("run_summary")
    return None


def match(question: str, view: RunView) -> Call | None:
    """The call the patterns give, or None."""
    q = question.strip()
    return _edit(q, view) or _question(q, view)


# -- semantic fallback -------------------------------------------------------------------------
KINDS: dict[str, tuple[str, list[str]]] = {
    "count_clusters": ("count the clusters", ["how many clusters are there", "number of intents found",
                                              "how many groups did it find"]),
    "count_unassigned": ("count the unassigned utterances", ["how many utterances are unassigned",
                                                             "how much was left over", "what is left unclustered"]),
    "count_utterances": ("count the utterances", ["how many utterances are in the data", "how big is the corpus"]),
    "largest": ("the largest clusters", ["which cluster is the biggest", "what are the most common intents"]),
    "smallest": ("the smallest clusters", ["which cluster is the smallest", "rarest intents"]),
    "about": ("clusters about the question's topic", ["which clusters are about cards",
                                                      "is there an intent for refunds", "where do fraud reports go"]),
    "show": ("what the cluster most about the question contains", ["what is in the lost card cluster",
                                                                   "show me examples of the refund intent"]),
    "similar": ("the most alike clusters", ["which clusters look alike", "are any clusters duplicates"]),
    "judge": ("what the judge saw for the cluster most about the question",
              ["what did the judge see", "why was it judged bad"]),
    "bad": ("the clusters judged bad", ["which clusters are bad", "what did the judge reject"]),
    "summary": ("a summary of the run", ["summarize the run", "give me an overview", "how did it go"]),
    "search": ("utterances closest in meaning to the question", ["find utterances like this",
                                                                  "search for messages about a topic"]),
}


def _call_for(kind: str, q: str, view: RunView) -> Call | None:
    topic = topic_of(q) or q
    simple = {"count_clusters": Call("count", {"what": "clusters"}),
              "count_unassigned": Call("count", {"what": "unassigned"}),
              "count_utterances": Call("count", {"what": "utterances"}),
              "largest": Call("extreme_clusters", {"largest": True}),
              "smallest": Call("extreme_clusters", {"largest": False}),
              "similar": Call("similar_clusters"), "bad": Call("list_clusters", {"verdict": "bad"}),
              "summary": Call("run_summary"), "about": Call("clusters_about", {"topic": topic}),
              "search": Call("search_utterances", {"query": quoted(q) or topic, "mode": "semantic", "limit": 10})}
    if kind in simple:
        return simple[kind]
    cid = _about_cluster(q, view)
    if cid is None:
        return None
    return Call("show_cluster", {"cluster_id": cid, "max_members": 10}) if kind == "show" else \
        Call("judge_view", {"cluster_id": cid})


_EXAMPLES: dict[int, tuple[list[str], np.ndarray]] = {}


def ranked_kinds(question: str, view: RunView) -> list[tuple[float, str]]:
    """Kinds of question, most similar first (the best example phrasing of each counts)."""
    key = id(view.embedder())
    if key not in _EXAMPLES:
        kinds = [k for k, (_, examples) in KINDS.items() for _ in examples]
        texts = [e for _, examples in KINDS.values() for e in examples]
        _EXAMPLES[key] = (kinds, view.encode(texts))
    kinds, E = _EXAMPLES[key]
    sims = E @ view.encode([question])[0]
    best: dict[str, float] = {}
    for k, s in zip(kinds, sims):
        best[k] = max(best.get(k, -1.0), float(s))
    return sorted(((s, k) for k, s in best.items()), reverse=True)


SURE = 0.6
"""Similarity above which the best kind is taken without asking the model (and a margin of MARGIN)."""
MARGIN = 0.05
FLOOR = 0.3
"""Below this, with no model to choose, the question is not answered from the run."""


def route(question: str, view: RunView, choose: Chooser | None = None) -> Call | None:
    """The one call that answers ``question``; None when nothing fits."""
    call = match(question, view)
    if call is not None:
        return call
    ranked = ranked_kinds(question, view)
    (s1, k1), (s2, _) = ranked[0], ranked[1]
    if s1 >= SURE and s1 - s2 >= MARGIN or (choose is None and s1 >= FLOOR):
        call = _call_for(k1, question, view)
        if call is not None:
            call.via = "semantic"
        return call
    if choose is None:
        return None
    top = [k for _, k in ranked[:3]]
    picked = choose(question, [KINDS[k][0] for k in top])
    if picked is None:  # the model gave no usable answer in time: the best candidate, if any is close
        if s1 < FLOOR:
            return None
        picked, via = 0, "semantic"
    else:
        via = "model"
    call = _call_for(top[picked], question, view)
    if call is not None:
        call.via = via
    return call


NOT_UNDERSTOOD = ("I could not match that to something the run can answer. Try: 'how many clusters are there?', "
                  "'which clusters are about cards?', 'what is in cluster 3?', 'where did \"...\" go?', "
                  "'which clusters look alike?', 'merge 3 and 7', or /help for the commands.")


def read_tools() -> dict[str, Callable[..., str]]:
    from dialin.inspect.tools import specs

    return {name: fn for name, fn, _, _ in specs() if name not in EDITS}
