"""Context-aware speaker-role separation (paper §3.4): customer vs agent.

Speaker roles (the config's ``method.roles``) are not the LLM roles (``config.roles``:
judge, namer, ...). Speaker roles come from a role column when the data has one, else from the cluster name's
action: request actions (inquire-, request-, report-, ...) are the customer's, the
rest (provide-, confirm-, explain-, ...) the agent's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

CUSTOMER_ACTIONS = frozenset({
    "inquire", "request", "report", "query", "check", "dispute", "cancel", "activate", "apply", "change",
    "update", "reset", "complain", "order", "transfer", "pay", "close", "increase", "decrease", "unlock",
    "block", "need", "want", "ask", "seek", "find", "get", "open", "add", "remove", "top", "withdraw",
    "exchange", "verify", "track", "refund", "return", "claim", "book", "schedule", "set", "turn", "play",
    "search", "recommend", "help", "question", "express", "thank", "compare", "lodge", "file",
})


def infer_role(name: str) -> str:
    """`customer` for a request action, else `agent` (the paper's name-based heuristic)."""
    action = name.split("-", 1)[0].strip().lower()
    return "customer" if action in CUSTOMER_ACTIONS else "agent"


def cluster_role(members: Sequence[int], member_roles: Sequence[str] | None, name: str | None) -> str:
    """The majority role of a cluster's members (role column), else the role its name implies."""
    if member_roles:
        return Counter(member_roles[i] for i in members).most_common(1)[0][0]
    return infer_role(name or "")


def split_by_role(members: Sequence[int], member_roles: Sequence[str]) -> dict[str, list[int]]:
    """A cluster's members grouped by role, roles in order of first appearance."""
    out: dict[str, list[int]] = {}
    for i in members:
        out.setdefault(member_roles[i], []).append(i)
    return out


def allocate_k(group_sizes: dict[str, int], k: int) -> dict[str, int]:
    """Split K over role groups in proportion to their sizes (at least 1, at most the group size)."""
    total = sum(group_sizes.values())
    return {g: max(1, min(n, round(k * n / total))) for g, n in group_sizes.items()} if total else {}
