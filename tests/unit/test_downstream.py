"""The downstream measure in `dialin bench`, and `classify --discover` on the unknowns (fakes: toy embedder, oracle)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dialin.classify.discover import add_intents, discover_unknowns
from dialin.cli import main
from dialin.config import load_config
from dialin.data import corpus_from_texts
from dialin.classify.downstream import (held_out_intents, majority_acc, parse_downstream_methods, run_downstream,
                               sample)
from dialin.errors import DialinError
from dialin.measure.metrics import acc
from dialin.store import Store
from fakes import FakeChat, factory, oracle_responder
from inspect_runs import FAKE_URL, TOPICS, base_run, copy_run  # noqa: F401 - base_run is a fixture


def rows(tails: tuple[str, ...]) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for label, stems in TOPICS.items():
        for stem in stems:
            for tail in tails:
                texts.append(f"{stem} {tail} {label}")
                labels.append(label)
    return texts, labels


def toy_config(tmp_path: Path):  # noqa: ANN201
    return load_config(overrides={
        "store": str(tmp_path / "store.db"), "embedder": {"kind": "toy"},
        "endpoints": {"local": {"base_url": FAKE_URL, "backend": "llamacpp", "server_args": {"logits_all": True}}},
        "method": {"k_candidates": [4, 6, 8], "max_iterations": 2, "min_unassigned": 2, "naming": "llm"}})


def test_hungarian_does_not_reward_splitting_but_majority_does() -> None:
    gold = ["a"] * 4 + ["b"] * 4
    split = ["a1", "a1", "a2", "a2", "b1", "b1", "b2", "b2"]
    assert majority_acc(gold, split) == 1.0 and acc(gold, split) == 0.5


def test_sample_and_held_out_intents_are_seeded() -> None:
    texts, labels = rows(("now", "today"))
    corpus = corpus_from_texts(texts, labels=labels)
    a, b = sample(corpus, 10, 3), sample(corpus, 10, 3)
    assert a.texts == b.texts and len(a) == 10 and sample(corpus, None, 0) is corpus
    assert held_out_intents(labels, 0.2, 1) == held_out_intents(labels, 0.2, 1)
    assert len(held_out_intents(labels, 0.2, 1)) == 1
    with pytest.raises(DialinError, match="unknown downstream method"):
        parse_downstream_methods("kmeans,nope")


def test_downstream_rows_ceiling_and_unknown_detection(tmp_path: Path) -> None:
    texts, labels = rows(("now", "today", "please", "asap"))
    test_texts, test_labels = rows(("tonight", "again"))
    config = toy_config(tmp_path)
    fake = FakeChat(oracle_responder(dict(zip(texts, labels))))
    rep = run_downstream(corpus_from_texts(texts, labels=labels), corpus_from_texts(test_texts, labels=test_labels),
                         config, ["dialin", "kmeans", "bertopic", "gold"], seed=0, unknown_share=0.2,
                         store=Store(config.store_path()), base_urls={}, client_factory=factory(fake))
    table = {r["method"]: r for r in rep["table"]}
    assert table["gold"]["acc"] == 100.0 and table["gold"]["below_ceiling"] == 0.0
    assert table["kmeans"]["intents"] == len(TOPICS) and table["dialin"]["run_id"]
    assert table["dialin"]["acc"] > 80 and table["dialin"]["below_ceiling"] == round(100 - table["dialin"]["acc"], 2)
    assert len(rep["held_out_intents"]) == 1 and table["gold"]["unknown_auroc"] > 0.5
    if importlib.util.find_spec("bertopic") is None:
        assert "pip install" in table["bertopic"]["skipped"]
    assert rep["test_rows"] == len(test_texts)


def test_bench_downstream_via_cli(tmp_path: Path) -> None:
    texts, labels = rows(("now", "today", "please"))
    test_texts, test_labels = rows(("tonight",))
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": lab, "split": s}) + "\n" for s, (tt, ll) in
                            (("train", (texts, labels)), ("test", (test_texts, test_labels)))
                            for t, lab in zip(tt, ll)))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"store: {tmp_path / 'store.db'}\nembedder:\n  kind: toy\n")
    out = CliRunner().invoke(main, ["bench", str(data), "--split", "train", "--downstream", "test", "--methods",
                                    "kmeans,gold", "--sample", "60", "--json", "--config", str(cfg)])
    assert out.exit_code == 0, out.output
    rep = json.loads(out.stdout)
    assert rep["train_rows"] == 60 and rep["test_rows"] == len(test_texts)
    assert [r["method"] for r in rep["table"]] == ["kmeans", "gold"]
    text = CliRunner().invoke(main, ["bench", str(data), "--split", "train", "--downstream", "test", "--methods",
                                     "kmeans,gold", "--config", str(cfg)])
    assert text.exit_code == 0 and "Hungarian" in text.output


def test_discover_unknowns_adds_a_revision(base_run, tmp_path: Path) -> None:
    run_id, cfg_src = base_run
    cfg = copy_run(cfg_src.parent, tmp_path / "run")
    config = load_config(cfg)
    store = Store(config.store_path())
    before = store.load_result(run_id)
    new_texts = [f"{stem} {tail} card order" for stem in ("order new card", "new card order", "card order")
                 for tail in ("now", "today", "please", "asap")]
    new_texts += [f"{stem} {tail} address" for stem in ("change address", "address update", "new address")
                  for tail in ("now", "today", "please", "asap")]
    gold = {t: ("order-card" if "order" in t else "update-address") for t in new_texts}
    fake = FakeChat(oracle_responder(gold))
    out = discover_unknowns(run_id, new_texts, None, config, store, "new.jsonl", base_urls={"local": FAKE_URL},
                            client_factory=factory(fake))
    after = store.load_result(run_id)
    assert out["revision"] == len(store.revisions(run_id)) and out["new_intents"]
    assert len(after["clusters"]) == len(before["clusters"]) + len(out["new_intents"])
    assert len(after["unique_texts"]) == len(before["unique_texts"]) + len(new_texts)
    assert after["gold_labels"] is None and "gold labels dropped" in out["note"]
    assert {c["name"] for c in after["clusters"]} >= {"order-card", "update-address"}
    with pytest.raises(DialinError, match="at least"):
        discover_unknowns(run_id, new_texts[:3], None, config, store, "x")


def test_add_intents_keeps_names_unique_and_gold_when_given() -> None:
    base = {"clusters": [{"id": 0, "name": "a-b", "members": [0, 1]}], "unique_texts": ["x", "y"],
            "row_to_unique": [0, 1], "row_labels": [0, 0], "gold_labels": ["g", "g"], "unassigned": [],
            "stats": {}, "merges": []}
    found = {"run_id": "r2", "clusters": [{"id": 0, "name": "a-b", "members": [0]}], "unique_texts": ["z"],
             "row_to_unique": [0]}
    out, ids = add_intents(base, found, ["h"], "f")
    assert [c["name"] for c in out["clusters"]] == ["a-b", "a-b_2"] and ids == [1]
    assert out["gold_labels"] == ["g", "g", "h"] and out["row_labels"] == [0, 0, 1]
    assert base["unique_texts"] == ["x", "y"]  # the input is not changed
