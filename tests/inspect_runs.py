"""A small stored run to inspect: discovery with fakes (toy embedder, oracle judge/namer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dialin.config import load_config
from dialin.data import corpus_from_texts
from dialin.runner import run_discovery
from dialin.store import Store
from dialin.tools.run_view import RunView
from fakes import FakeChat, factory, oracle_responder

TOPICS = {
    "report-lost_card": ["lost card", "card lost", "missing card", "lost my card", "card gone lost"],
    "inquire-balance": ["balance", "account balance", "my balance", "balance check", "current balance"],
    "request-refund": ["refund", "money back refund", "refund please", "want refund", "refund purchase"],
    "reset-password": ["password reset", "forgot password", "reset password", "new password", "password locked"],
}
NASTY = "<script>alert('x')</script> password & <b>reset</b>"
"""An utterance that must stay text in every output (the HTML report above all)."""


def corpus_rows() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for label, stems in TOPICS.items():
        for stem in stems:
            for tail in ("now", "today", "please", "asap"):
                texts.append(f"{stem} {tail} {label.split('-')[1].replace('_', ' ')}")
                labels.append(label)
    texts.append(NASTY)
    labels.append("reset-password")
    texts.append(texts[0])  # a duplicate row: rows and unique utterances differ
    labels.append(labels[0])
    return texts, labels


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "dialin.yaml"
    path.write_text(yaml.safe_dump({
        "store": str(tmp_path / "store.db"),
        "embedder": {"kind": "toy"},
        "endpoints": {"local": {"base_url": "http://fake.invalid/v1", "backend": "llamacpp"}},
        "method": {"k_candidates": [2, 4, 6], "max_iterations": 2, "min_unassigned": 2},
    }))
    return path


def make_run(tmp_path: Path) -> tuple[str, Path, dict[str, str]]:
    """Run discovery once; returns (run id, config file, gold label per text)."""
    texts, labels = corpus_rows()
    gold = dict(zip(texts, labels))
    cfg = config_file(tmp_path)
    config = load_config(cfg)
    result = run_discovery(corpus_from_texts(texts, labels=labels), config, base_urls={},
                           client_factory=factory(FakeChat(oracle_responder(gold))), store=Store(config.store_path()))
    return result["run_id"], cfg, gold


def open_view(tmp_path: Path, **kwargs: Any) -> RunView:
    run_id, cfg, gold = make_run(tmp_path)
    kwargs.setdefault("client_factory", factory(FakeChat(oracle_responder(gold))))
    return RunView.open(run_id, str(cfg), base_urls={}, **kwargs)
