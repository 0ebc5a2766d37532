"""``dialin chat``'s slash commands: ``HELP`` and ``parse_command`` (the loop is ``dialin.inspect.chat``).

A line starting with ``/`` is a command: the graph runs the named tool directly, no
model involved, so the chat is useful with any model or none. Anything else is a
question: answered from the run first (``dialin.agents.run_led``), or by a tool-calling
inspector model with the same tools. Edits pause the graph with an
``interrupt``; the loop shows the preview and resumes it with the person's answer.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from dialin.errors import DialinError

HELP = """\
/summary               overview: sizes, verdicts, K per iteration, metrics
/clusters [VERDICT]    list clusters (VERDICT: good, bad, unjudged); sorted by size
/show ID [N]           one cluster: members, the judge's sample and votes
/search TEXT           utterances closest in meaning  (/search -k WORDS: containing the words)
/where TEXT|#N         which cluster holds an utterance
/compare A B           two clusters side by side
/confusion [N]         intents a classifier trained on the run mixes up (merge hints)
/rename ID NEW NAME    rename a cluster
/merge A B [NAME]      merge cluster B into cluster A
/split ID K            re-cluster one cluster into K parts
/move TEXT|#N ID       move an utterance to cluster ID (-1: unassigned); quote TEXT if it ends in a number
/rejudge ID            ask the coherence judge again
/undo                  revert the latest edit made in chat
/export DIR            write clusters.jsonl and assignments.csv
/help                  this list
/quit                  leave
Anything else is a question in plain language ("which clusters are about cards?", "merge 3 and 7"):
answered from the run (a tool-calling inspector model leads instead). Edits ask before they save."""

LOCAL = {"help", "quit"}
"""Commands that are not tools."""


@dataclass
class Parsed:
    name: str
    """A tool name (``show_cluster`` ...), ``undo``, ``help`` or ``quit``."""
    args: dict[str, Any] = field(default_factory=dict)


def _int(word: str, what: str) -> int:
    try:
        return int(word)
    except ValueError:
        raise DialinError(f"{what} must be a number, got {word!r} (/help lists the commands)") from None


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _words(rest: str) -> list[str]:
    try:
        return shlex.split(rest)
    except ValueError:
        return rest.split()


def _need(words: list[str], n: int, usage: str) -> None:
    if len(words) < n:
        raise DialinError(f"usage: {usage}")


def parse_command(line: str) -> Parsed | None:
    """The command a line asks for; None when the line is a question for the model."""
    line = line.strip()
    if not line.startswith("/"):
        return None
    head, _, rest = line[1:].partition(" ")
    cmd, rest = head.lower(), rest.strip()
    words = _words(rest)
    if cmd in ("help", "?", "h"):
        return Parsed("help")
    if cmd in ("quit", "exit", "q"):
        return Parsed("quit")
    if cmd == "undo":
        return Parsed("undo")
    if cmd == "summary":
        return Parsed("run_summary")
    if cmd in ("clusters", "list", "ls"):
        args: dict[str, Any] = {}
        for w in words:
            if w in ("good", "bad", "unjudged", "any"):
                args["verdict"] = w
            elif w in ("size", "confidence", "id", "name"):
                args["sort"] = w
        return Parsed("list_clusters", args)
    if cmd == "show":
        _need(words, 1, "/show ID [N]")
        args = {"cluster_id": _int(words[0], "ID")}
        if len(words) > 1:
            args["max_members"] = _int(words[1], "N")
        return Parsed("show_cluster", args)
    if cmd in ("search", "grep"):
        keyword = cmd == "grep" or rest.startswith(("-k ", "--keyword "))
        text = rest.split(" ", 1)[1] if rest.startswith(("-k ", "--keyword ")) else rest
        _need([text] if text.strip() else [], 1, "/search TEXT  or  /search -k WORDS")
        return Parsed("search_utterances", {"query": _unquote(text), "mode": "keyword" if keyword else "semantic"})
    if cmd in ("where", "which"):
        _need([rest] if rest else [], 1, "/where TEXT|#N")
        return Parsed("find_utterance", {"utterance": _unquote(rest)})
    if cmd == "compare":
        _need(words, 2, "/compare A B")
        return Parsed("compare_clusters", {"a": _int(words[0], "A"), "b": _int(words[1], "B")})
    if cmd == "confusion":
        return Parsed("intent_confusion", {"limit": _int(words[0], "N")} if words else {})
    if cmd == "rename":
        _need(words, 2, "/rename ID NEW NAME")
        return Parsed("rename_cluster", {"cluster_id": _int(words[0], "ID"), "name": _unquote(rest.split(" ", 1)[1])})
    if cmd == "merge":
        _need(words, 2, "/merge A B [NAME]")
        name = rest.split(None, 2)[2].strip() if len(words) > 2 else None
        return Parsed("merge_clusters", {"a": _int(words[0], "A"), "b": _int(words[1], "B"),
                                         "name": _unquote(name) if name else None})
    if cmd == "split":
        _need(words, 1, "/split ID [K]")
        return Parsed("split_cluster", {"cluster_id": _int(words[0], "ID"),
                                        "k": _int(words[1], "K") if len(words) > 1 else 2})
    if cmd == "move":
        text, _, target = rest.rpartition(" ")
        _need([text, target] if text.strip() else [], 2, '/move "UTTERANCE"|#N CLUSTER_ID')
        return Parsed("move_utterance", {"utterance": _unquote(text), "to_cluster": _int(target, "CLUSTER_ID")})
    if cmd == "rejudge":
        _need(words, 1, "/rejudge ID")
        return Parsed("rejudge_cluster", {"cluster_id": _int(words[0], "ID")})
    if cmd == "export":
        _need(words, 1, "/export DIR")
        return Parsed("export_run", {"out_dir": words[0]})
    raise DialinError(f"unknown command /{cmd}: /help lists the commands")
