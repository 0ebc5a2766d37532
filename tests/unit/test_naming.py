"""Naming by selection: key-word objectives and the namer's answer, the one nearest the cluster wins."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from dialin.agents.namer import is_valid_name
from dialin.tools.naming import choose_name, keyword_objectives, name_cluster
from fakes import FakeChat, WordEncoder, naming_router


CARD = ["card arrival late", "card arrival when", "card arrival tracking", "report card arrival"]


def test_keyword_objectives_are_words_pairs_and_ordered_triples() -> None:
    objs = keyword_objectives(["card", "arrival", "late", "card", "pin", "new", "track", "extra"])
    assert len(objs) == 6 + 6 * 5 + 20  # the first 6 distinct words: singles, ordered pairs, triples in rank order
    assert ("card", "arrival") in objs and ("arrival", "card") in objs and ("arrival", "card", "late") not in objs
    assert all("extra" not in o for o in objs)
    assert keyword_objectives(["ok", "x1", "Bad"]) == [("ok",)]  # only lower-case words can be name parts


def test_the_objective_and_action_nearest_the_cluster_win() -> None:
    enc = WordEncoder()
    members = enc.encode(CARD)
    name = choose_name(enc, members, ["late", "tracking", "card", "arrival", "when"])
    assert name == "report-card_arrival"  # the words every member shares; the verb the members use
    assert is_valid_name(name)
    # the action is not repeated in the objective: report-card, not report-report_card
    assert choose_name(enc, enc.encode(["report card", "report card now"]), ["report", "card"]) == "report-card"


def test_the_namers_answer_competes_and_can_win() -> None:
    enc = WordEncoder()
    members = enc.encode(["where is my parcel courier", "parcel courier late", "chase the courier for my parcel"])
    keywords = ["where", "late"]  # poor key words: the namer saw what they miss
    assert choose_name(enc, members, keywords, "chase-parcel_courier") == "chase-parcel_courier"
    assert choose_name(enc, members, keywords, None).split("-", 1)[1] in {"where", "late", "where_late", "late_where"}
    # nothing to choose from: the namer's answer (or a placeholder) as it is
    assert choose_name(enc, np.empty((0, 64)), keywords, "Track Parcel") == "track-parcel"
    assert choose_name(enc, members, [], "other-unspecified") == "other-unspecified"
    assert choose_name(enc, members, []) == "other-unspecified"


@pytest.mark.parametrize("mode,calls,expected", [
    ("llm", 1, "inquire-when"),  # the namer's answer as it is
    ("select", 1, "report-card_arrival"),  # asked, and out-voted by the key words
    ("keywords", 0, "report-card_arrival"),  # no LLM call at all
])
def test_naming_modes(tmp_path, mode: str, calls: int, expected: str) -> None:  # noqa: ANN001
    fake = FakeChat(lambda request: "inquire-when")
    router = naming_router(tmp_path, fake, mode)
    enc = WordEncoder()
    name = asyncio.run(name_cluster(router, enc, CARD, ["card", "arrival", "late"], enc.encode(CARD), mode=mode,
                                    grounded=False))
    assert name == expected
    assert len(fake.history) == calls


def test_an_unknown_naming_mode_is_refused(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="llm, select, keywords"):
        asyncio.run(name_cluster(naming_router(tmp_path, FakeChat(), "llm"), WordEncoder(), CARD, ["card"],
                                 np.ones((1, 64)), mode="guess"))
