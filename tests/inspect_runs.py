"""A small stored run to inspect: discovery with fakes (toy embedder, oracle judge/namer)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from dialin.config import load_config
from dialin.data import corpus_from_texts
from dialin.runner import run_discovery
from dialin.store import Store
from dialin.inspect.run_view import RunView
from fakes import FakeChat, factory, oracle_responder

TOPICS = {
    "report-lost_card": ["lost card", "card lost", "missing card", "lost my card", "card gone lost"],
    "inquire-balance": ["balance", "account balance", "my balance", "balance check", "current balance"],
    "request-refund": ["refund", "money back refund", "refund please", "want refund", "refund purchase"],
    "reset-password": ["password reset", "forgot password", "reset password", "new password", "password locked"],
}
NASTY = ("<script>window.__dialin_xss = 1</script><img src=x onerror=\"window.__dialin_xss = 2\"> "
         "password & <b>reset</b> \u2028 now")
"""An utterance that must stay text everywhere (the HTML report above all)."""
FAKE_URL = "http://fake.invalid/v1"


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


def gold() -> dict[str, str]:
    texts, labels = corpus_rows()
    return dict(zip(texts, labels))


def config_file(folder: Path, **extra: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dialin.yaml"
    data = {"store": str(folder / "store.db"), "embedder": {"kind": "toy"},
            "endpoints": {"local": {"base_url": FAKE_URL, "backend": "llamacpp"}},
            "method": {"k_candidates": [2, 4, 6], "max_iterations": 2, "min_unassigned": 2, "n_sentences": 20,
                       "k_grid_size": 5,
                       # every verdict from the (fake) LLM judge and every name from its namer,
                       # whatever the defaults become
                       "cascade_low": None, "cascade_high": None, "judge_budget": None, "naming": "llm"}}
    path.write_text(yaml.safe_dump({**data, **extra}))
    return path


def make_run(folder: Path, **config_extra: Any) -> tuple[str, Path]:
    """Run discovery once into ``folder``; returns (run id, config file)."""
    texts, labels = corpus_rows()
    cfg = config_file(folder, **config_extra)
    config = load_config(cfg)
    result = run_discovery(corpus_from_texts(texts, labels=labels), config,
                           base_urls={name: FAKE_URL for name in config.endpoints},
                           client_factory=factory(FakeChat(oracle_responder(gold()))),
                           store=Store(config.store_path()))
    return result["run_id"], cfg


def copy_run(src: Path, dst: Path) -> Path:
    """A private copy of a stored run (store and config), for a test that edits it."""
    cfg = config_file(dst)
    with sqlite3.connect(src / "store.db") as a, sqlite3.connect(dst / "store.db") as b:
        a.backup(b)
    return cfg


def open_view(run_id: str, cfg: Path, **kwargs: Any) -> RunView:
    """The run, with the judge answering through the oracle fake (for re-judging)."""
    kwargs.setdefault("client_factory", factory(FakeChat(oracle_responder(gold()))))
    kwargs.setdefault("base_urls", {"local": FAKE_URL})
    return RunView.open(run_id, str(cfg), **kwargs)


@pytest.fixture(scope="session")
def base_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One discovery run for the whole session (run id, config file); tests edit copies of it."""
    return make_run(tmp_path_factory.mktemp("base-run"))


@pytest.fixture
def view(base_run: tuple[str, Path], tmp_path: Path) -> RunView:
    run_id, cfg = base_run
    return open_view(run_id, copy_run(cfg.parent, tmp_path / "run"))
