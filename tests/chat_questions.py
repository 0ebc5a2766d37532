"""The chat question set: questions about a run of the example corpus, with expected answers.

``QUESTIONS`` were written together with the router's patterns; ``HELD_OUT`` were written after it
and not used to change it; ``EDITS`` are edits asked in plain language. ``ALL`` is the set.

Cluster ids depend on the run, so each expectation is computed from the stored run just
before its question is asked: the number to find (a count, a size), the cluster whose
rows' gold intent contains a word ("about cards": a cluster whose majority gold intent
has ``card`` in it), the cluster that holds an utterance, the closest pair of centroids,
the edit made (and undone by /undo). A question counts as right when its check passes.

``ask_all`` drives the terminal chat's own turn function (``dialin.inspect.chat.run_turn``), so
the text checked is what a person at the terminal would see.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Check = Callable[[str, Any], bool]


@dataclass
class Question:
    make: Callable[[Any], tuple[str, Check]]
    """(the view) -> (the line typed, the check of what was shown)."""
    kind: str
    answers: list[str] = field(default_factory=list)
    """What the person answers to confirmations, in order (default: no)."""
    edit: bool = False
    """A confirmed edit: the revision may change (and is then undone with /undo by the check)."""


# -- what the run says ----------------------------------------------------------------------------
def result(view: Any) -> dict[str, Any]:
    return view.result()


def majority_gold(view: Any) -> dict[int, str]:
    """Cluster id -> the most common gold intent of its rows."""
    r = result(view)
    rows: dict[int, list[str]] = {}
    for u, gold in zip(r["row_to_unique"], r["gold_labels"]):
        rows.setdefault(u, []).append(gold)
    return {c["id"]: Counter(g for i in c["members"] for g in rows.get(i, [])).most_common(1)[0][0]
            for c in r["clusters"]}


def about(view: Any, *words: str) -> set[int]:
    return {cid for cid, gold in majority_gold(view).items() if any(w in gold for w in words)}


def ids_in(text: str) -> list[int]:
    """Cluster ids in the order an answer names them (``cluster N`` or a list line ``  N  name``)."""
    found = []
    for m in re.finditer(r"\bcluster (\d+)\b|^\s{0,3}(\d+)\s{2}\S|(?:: |; )(\d+) '", text, re.MULTILINE):
        found.append(int(m.group(1) or m.group(2) or m.group(3)))
    return found


def has_number(text: str, n: int) -> bool:
    return re.search(rf"(?<![\d.#]){n}(?![\d.])", text) is not None


def by_size(view: Any) -> list[dict[str, Any]]:
    return sorted(result(view)["clusters"], key=lambda c: (-c["size"], c["id"]))


def centroid_sims(view: Any) -> tuple[list[dict[str, Any]], np.ndarray]:
    clusters = result(view)["clusters"]
    X = view.vectors()
    C = np.stack([X[c["members"]].mean(axis=0) for c in clusters])
    C /= np.linalg.norm(C, axis=1, keepdims=True)
    return clusters, C @ C.T


def owner(view: Any, i: int) -> int | None:
    return next((c["id"] for c in result(view)["clusters"] if i in c["members"]), None)


def plain_utterance(view: Any, cluster_rank: int) -> int:
    """A member of the cluster at this size rank whose text has no quote marks."""
    c = by_size(view)[cluster_rank]
    texts = result(view)["unique_texts"]
    return next(i for i in c["members"] if '"' not in texts[i] and len(texts[i]) > 15)


def mid(view: Any) -> dict[str, Any]:
    return by_size(view)[len(by_size(view)) // 2]


def revision(view: Any) -> int:
    return int(view.latest_revision())


# -- the questions ---------------------------------------------------------------------------------
def _count(line: str, value: Callable[[Any], int]) -> Question:
    return Question(lambda v: (line, lambda text, v2: has_number(text, value(v))), "count")


def _about(line: str, *words: str) -> Question:
    def make(v: Any) -> tuple[str, Check]:
        expected = about(v, *words)

        def check(text: str, v2: Any) -> bool:
            named = ids_in(text)
            if not expected:  # the run has no such cluster: the answer must say so
                return "No cluster is clearly about" in text
            if "No cluster is clearly about" in text or not named or named[0] not in expected:
                return False
            return sum(i in expected for i in named) * 2 >= len(named)  # at least half of those named

        return line, check

    return Question(make, "about")


def _first_id(line_of: Callable[[Any], str], expected: Callable[[Any], set[int]], kind: str,
              must: str = "") -> Question:
    def make(v: Any) -> tuple[str, Check]:
        want = expected(v)
        return line_of(v), lambda text, v2: bool(ids_in(text)) and ids_in(text)[0] in want and must in text

    return Question(make, kind)


def _where(line_of: Callable[[Any, str], str], rank: int) -> Question:
    def make(v: Any) -> tuple[str, Check]:
        i = plain_utterance(v, rank)
        cid = owner(v, i)
        return line_of(v, result(v)["unique_texts"][i]), lambda text, v2: f"cluster {cid} " in text

    return Question(make, "where")


def _show(line_of: Callable[[Any], str], cid_of: Callable[[Any], int]) -> Question:
    def make(v: Any) -> tuple[str, Check]:
        c = next(c for c in result(v)["clusters"] if c["id"] == cid_of(v))
        texts = result(v)["unique_texts"]
        return line_of(v), lambda text, v2: c["name"] in text and texts[c["members"][0]][:40] in " ".join(
            text.split())

    return Question(make, "show")


def _closest_pair(v: Any) -> set[int]:
    clusters, S = centroid_sims(v)
    np.fill_diagonal(S, -2)
    a, b = np.unravel_index(int(np.argmax(S)), S.shape)
    return {clusters[a]["id"], clusters[b]["id"]}


def _nearest(v: Any, cid: int) -> set[int]:
    clusters, S = centroid_sims(v)
    i = next(k for k, c in enumerate(clusters) if c["id"] == cid)
    S[i, i] = -2
    return {clusters[int(np.argmax(S[i]))]["id"]}


def _verdict_ids(v: Any, label: str) -> set[int]:
    return {c["id"] for c in result(v)["clusters"] if (c.get("verdict") or {}).get("label") == label}


def _n_verdict(v: Any, label: str) -> int:
    return len(_verdict_ids(v, label))


def _judged(v: Any, label: str) -> dict[str, Any]:
    pool = [c for c in by_size(v) if (c.get("verdict") or {}).get("label") == label] or by_size(v)
    return pool[0]


def _edit(line_of: Callable[[Any], tuple[str, Callable[[Any, Any], bool]]], kind: str, answer: str = "y") -> Question:
    """An edit asked in plain language: confirmed (``y``) it must change the run, refused (``n``) not."""

    def make(v: Any) -> tuple[str, Check]:
        before = revision(v)
        line, changed = line_of(v)
        snapshot = result(v)

        def check(text: str, v2: Any) -> bool:
            if answer != "y":
                return revision(v2) == before and "Nothing was saved" in text
            return revision(v2) == before + 1 and changed(snapshot, result(v2))

        return line, check

    return Question(make, kind, answers=[answer], edit=answer == "y")


def _merge(v: Any) -> tuple[str, Callable[[Any, Any], bool]]:
    a, b = by_size(v)[1]["id"], by_size(v)[2]["id"]
    return f"merge {a} and {b}", lambda old, new: b not in {c["id"] for c in new["clusters"]} and \
        len(new["clusters"]) == len(old["clusters"]) - 1


def _rename(v: Any) -> tuple[str, Callable[[Any, Any], bool]]:
    cid = mid(v)["id"]
    taken = {c["name"] for c in result(v)["clusters"]}
    name = "report-lost_card" if "report-lost_card" not in taken else "report-lost_card_again"  # names are unique
    return f"rename {cid} to {name}", \
        lambda old, new: next(c["name"] for c in new["clusters"] if c["id"] == cid) == name


def _split(v: Any) -> tuple[str, Callable[[Any, Any], bool]]:
    cid = by_size(v)[0]["id"]
    return f"split {cid} in two", lambda old, new: cid not in {c["id"] for c in new["clusters"]} and \
        len(new["clusters"]) == len(old["clusters"]) + 1


def _move(v: Any) -> tuple[str, Callable[[Any, Any], bool]]:
    i = plain_utterance(v, 3)
    to = by_size(v)[4]["id"]
    return f"move #{i} to {to}", lambda old, new: i in next(c["members"] for c in new["clusters"] if c["id"] == to)


QUESTIONS: list[Question] = [
    # counts
    _count("How many clusters are there?", lambda v: len(result(v)["clusters"])),
    _count("how many utterances are unassigned?", lambda v: len(result(v)["unassigned"])),
    _count("How many utterances does the run have?", lambda v: len(result(v)["row_to_unique"])),
    _count("how many unique utterances are there?", lambda v: len(result(v)["unique_texts"])),
    _count("how many clusters did the judge mark as bad?", lambda v: _n_verdict(v, "bad")),
    _count("How many clusters are good?", lambda v: _n_verdict(v, "good")),
    _count("what got left over?", lambda v: len(result(v)["unassigned"])),
    # sizes
    Question(lambda v: (f"how big is cluster {by_size(v)[0]['id']}?",
                        lambda t, v2: has_number(t, by_size(v)[0]["size"])), "size"),
    Question(lambda v: (f"how many utterances are in cluster {mid(v)['id']}?",
                        lambda t, v2: has_number(t, mid(v)["size"])), "size"),
    _first_id(lambda v: "which is the largest cluster?", lambda v: {by_size(v)[0]["id"]}, "size"),
    _first_id(lambda v: "biggest intent?", lambda v: {by_size(v)[0]["id"]}, "size"),
    _first_id(lambda v: "what is the smallest cluster?",
              lambda v: {c["id"] for c in by_size(v) if c["size"] == by_size(v)[-1]["size"]}, "size"),
    # which clusters are about X (gold intents of their rows)
    _about("which clusters are about cards?", "card"),
    _about("which clusters are about refunds?", "refund"),
    _about("is there a cluster for password resets?", "password", "reset_instructions"),
    _about("which clusters deal with fraud?", "fraud"),
    _about("clusters about exchange rates", "exchange_rate"),
    _about("which intents cover card activation?", "activat"),
    _about("is there a cluster about changing my address?", "address"),
    _about("which clusters are about loans?", "loan"),
    # what a cluster contains
    _show(lambda v: f"what is in cluster {mid(v)['id']}?", lambda v: mid(v)["id"]),
    _show(lambda v: f"show me cluster {by_size(v)[1]['id']}", lambda v: by_size(v)[1]["id"]),
    _first_id(lambda v: "what's in the lost card cluster?", lambda v: about(v, "lost_card", "card_blocked"),
              "show", must="members ("),
    Question(lambda v: (f"what is cluster {mid(v)['id']} called?", lambda t, v2: mid(v)["name"] in t), "show"),
    # where an utterance went
    _where(lambda v, text: f'where did "{text}" go?', 1),
    _where(lambda v, text: f'which cluster is "{text}" in?', 5),
    Question(lambda v: (f"where is #{plain_utterance(v, 2)}?",
                        lambda t, v2: f"cluster {owner(v, plain_utterance(v, 2))} " in t), "where"),
    # which clusters look alike
    Question(lambda v: ("which clusters look alike?",
                        lambda t, v2: set(ids_in(t)[:2]) == _closest_pair(v)), "similar"),
    Question(lambda v: (f"which clusters are similar to cluster {by_size(v)[0]['id']}?",
                        lambda t, v2: ids_in(t)[1:2] == sorted(_nearest(v, by_size(v)[0]["id"]))), "similar"),
    Question(lambda v: ("any duplicate intents?", lambda t, v2: set(ids_in(t)[:2]) == _closest_pair(v)), "similar"),
    Question(lambda v: (f"compare {by_size(v)[0]['id']} and {by_size(v)[1]['id']}",
                        lambda t, v2: "centroid cosine" in t and set(ids_in(t)) >= {by_size(v)[0]["id"],
                                                                                    by_size(v)[1]["id"]}), "similar"),
    # what the judge saw
    Question(lambda v: (f"what did the judge see for cluster {_judged(v, 'good')['id']}?",
                        lambda t, v2: f"cluster {_judged(v, 'good')['id']} " in t and "verdict" in t), "judge"),
    Question(lambda v: (f"why was cluster {_judged(v, 'bad')['id']} judged bad?",
                        lambda t, v2: f"cluster {_judged(v, 'bad')['id']} " in t
                        and ((_judged(v, "bad").get("verdict") or {}).get("label") or "not judged") in t), "judge"),
    Question(lambda v: ("which clusters were judged bad?",
                        lambda t, v2: bool(ids_in(t)) and set(ids_in(t)) <= _verdict_ids(v, "bad")
                        if _verdict_ids(v, "bad") else "no clusters" in t), "judge"),
    # said loosely: no pattern has these words; semantic search (and the model's choice) route them
    _count("what fell through the cracks?", lambda v: len(result(v)["unassigned"])),
    _first_id(lambda v: "what are the main intents?", lambda v: {by_size(v)[0]["id"]}, "size"),
    Question(lambda v: ("find utterances about a stolen card",
                        lambda t, v2: sum(("stol" in x.lower() or "card" in x.lower())
                                          for x in t.splitlines() if x.strip().startswith("#")) >= 5), "search"),
    # the run as a whole
    Question(lambda v: ("give me an overview of the run", lambda t, v2: v.run_id in t and "clusters" in t), "summary"),
]
HELD_OUT: list[Question] = [
    # written after the router, and not used to change it: how other phrasings fare
    _count("count the clusters for me", lambda v: len(result(v)["clusters"])),
    _count("what share of the data went unassigned?", lambda v: len(result(v)["unassigned"])),
    Question(lambda v: (f"tell me the size of cluster {mid(v)['id']}", lambda t, v2: has_number(t, mid(v)["size"])),
             "size"),
    _first_id(lambda v: "which intent has the most utterances?", lambda v: {by_size(v)[0]["id"]}, "size"),
    _about("anything on stolen cards?", "card"),
    _show(lambda v: f"give me a few examples from cluster {mid(v)['id']}", lambda v: mid(v)["id"]),
    Question(lambda v: (f"is cluster {by_size(v)[0]['id']} basically the same as cluster {by_size(v)[1]['id']}?",
                        lambda t, v2: "centroid cosine" in t), "similar"),
    Question(lambda v: (f"what verdict did cluster {mid(v)['id']} get?",
                        lambda t, v2: f"cluster {mid(v)['id']} " in t and "verdict" in t), "judge"),
    Question(lambda v: (f"which cluster did #{plain_utterance(v, 2)} end up in?",
                        lambda t, v2: f"cluster {owner(v, plain_utterance(v, 2))} " in t), "where"),
    Question(lambda v: ("list the clusters judged good",
                        lambda t, v2: bool(ids_in(t)) and set(ids_in(t)) <= _verdict_ids(v, "good")), "judge"),
]
EDITS: list[Question] = [
    # edits in plain language: confirmed ones change the run (and /undo reverts them), a refused one does not
    _edit(_merge, "edit"),
    _edit(_rename, "edit"),
    _edit(_split, "edit"),
    _edit(_move, "edit"),
    _edit(_merge, "edit", answer="n"),
]
ALL: list[Question] = QUESTIONS + HELD_OUT + EDITS


@dataclass
class Outcome:
    line: str
    kind: str
    right: bool
    seconds: float
    shows_call_text: bool
    unconfirmed_edit: bool
    undo_ok: bool | None
    text: str
    held_out: bool = False


def ask_all(view: Any, questions: list[Question] | None = None, *, context: Any = None,
            thread: str = "questions") -> list[Outcome]:
    """Ask every question through the terminal chat's turn function; returns what happened to each."""
    from langgraph.checkpoint.memory import InMemorySaver

    from dialin.agents.run_led import looks_like_tool_call
    from dialin.inspect.chat import run_turn
    from dialin.graphs.inspector.graph import build_graph
    from dialin.graphs.inspector.state import InspectorContext

    questions = ALL if questions is None else questions
    held_out = {id(q) for q in HELD_OUT}
    graph = build_graph().compile(checkpointer=InMemorySaver())
    context = context or InspectorContext(run_id=view.run_id, view=view)
    config = {"configurable": {"thread_id": thread}, "recursion_limit": 40}
    out: list[Outcome] = []
    for q in questions:
        before = revision(view)
        line, check = q.make(view)
        said: list[str] = []
        answers = iter(q.answers)
        asked: list[str] = []

        def ask(prompt: str) -> str:
            asked.append(prompt)
            return next(answers, "n")

        started = time.perf_counter()
        try:
            run_turn(graph, line, config, context, ask, said.append)
        except Exception as exc:  # noqa: BLE001 -- a crash is a wrong answer, shown in the table
            said.append(f"CRASH {type(exc).__name__}: {exc}")
        seconds = time.perf_counter() - started
        text = "\n".join(said)
        try:
            right = bool(check(text, view))
        except Exception:  # noqa: BLE001 -- a check that cannot read the answer: wrong
            right = False
        unconfirmed = revision(view) != before and not (q.edit and asked)
        undo_ok = None
        if revision(view) != before:
            undone: list[str] = []
            run_turn(graph, "/undo", config, context, ask, undone.append)
            undo_ok = revision(view) == before
        if q.edit:
            right = right and undo_ok is True
        out.append(Outcome(line, q.kind, right, seconds, looks_like_tool_call(text), unconfirmed, undo_ok, text,
                           id(q) in held_out))
    return out


def table(outcomes: list[Outcome]) -> str:
    lines = [f"{'ok':<3} {'s':>5}  {'kind':<8} question -> first line of the answer"]
    for o in outcomes:
        first = next((x for x in o.text.splitlines() if x.strip() and not x.strip().startswith("->")), "")
        kind = o.kind + ("*" if o.held_out else "")
        lines.append(f"{'yes' if o.right else 'NO':<3} {o.seconds:5.1f}  {kind:<8} {o.line[:60]} -> {first[:90]}")
    right = sum(o.right for o in outcomes)
    held = [o for o in outcomes if o.held_out]
    if held:
        lines.append(f"held out (*, written after the router, not tuned on): right {sum(o.right for o in held)}/"
                     f"{len(held)}")
    lines.append(f"right {right}/{len(outcomes)} = {right / len(outcomes):.0%}; tool-call text shown "
                 f"{sum(o.shows_call_text for o in outcomes)}; unconfirmed edits "
                 f"{sum(o.unconfirmed_edit for o in outcomes)}; max {max(o.seconds for o in outcomes):.1f} s, "
                 f"median {sorted(o.seconds for o in outcomes)[len(outcomes) // 2]:.1f} s")
    return "\n".join(lines)
