"""dialin finetune embedder on a tiny random BERT sentence-transformer: loss, train, resume, CLI, cache key.

The real path (the bundled MiniLM on BANKING77) is tests/integration/test_finetune_real.py.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from click.testing import CliRunner  # noqa: E402

from dialin.cli import main  # noqa: E402
from dialin.embed import SentenceTransformerEmbedder  # noqa: E402
from dialin.finetune.embedder import (EmbedderSettings, contrastive_loss, positive_pairs, split_intents,  # noqa: E402
                                      train_embedder)
from dialin.finetune.run import finetune_embedder  # noqa: E402

TOPICS = {"card_arrival": "card arrive post mail", "pin_change": "pin code change reset",
          "loan_rate": "loan rate interest percent", "cash_atm": "cash atm machine withdraw",
          "fee_charge": "fee charge extra cost", "app_login": "app login password account"}
FILLER = "please i my the a can you help need want how what why when is it".split()


def tiny_sentence_transformer(folder: Path) -> Path:
    """A random 2-layer BERT with a word vocabulary, saved as a sentence-transformers folder."""
    from sentence_transformers import SentenceTransformer
    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Pooling, Transformer
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    words = sorted({w for t in TOPICS.values() for w in t.split()} | set(FILLER))
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    hf = folder / "hf"
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]").save_pretrained(str(hf))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(str(hf))
    word = Transformer(str(hf), max_seq_length=32)
    st = SentenceTransformer(modules=[word, Pooling(32, "mean")], device="cpu")
    st.save(str(folder / "st"))
    return folder / "st"


def toy_labelled(per: int = 32, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for label, topic in TOPICS.items():
        keys = topic.split()
        for _ in range(per):
            words = rng.sample(keys, 2) + rng.sample(FILLER, 4)
            rng.shuffle(words)
            texts.append(" ".join(words))
            labels.append(label)
    return texts, labels


def labelled_file(tmp_path: Path, label_col: str = "label") -> Path:
    texts, labels = toy_labelled()
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps({"text": t, label_col: y}) + "\n" for t, y in zip(texts, labels)))
    return data


def separation(st, texts: list[str], labels: list[str]) -> float:
    X = st.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    S = X @ X.T
    y = np.array(labels)
    same = (y[:, None] == y[None, :]) & ~np.eye(len(y), dtype=bool)
    diff = y[:, None] != y[None, :]
    return float(S[same].mean() - S[diff].mean())


def test_contrastive_loss_does_not_count_same_intent_positives_as_negatives() -> None:
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    same_intent = contrastive_loss(a, p, torch.tensor([0, 0, 1]), scale=20.0)
    assert float(same_intent) < 1e-6  # each anchor's only real negative is orthogonal
    all_different = contrastive_loss(a, p, torch.tensor([0, 1, 2]), scale=20.0)
    assert float(all_different) > 0.4  # anchors 0 and 1 now count each other's identical positive against them


def test_positive_pairs_and_heldout_intents() -> None:
    labels = ["a", "a", "b", "b", "b", "c"]
    pos = positive_pairs(labels, range(6), random.Random(0))
    assert [labels[j] for j in pos] == labels
    assert all(j != i for i, j in enumerate(pos) if labels.count(labels[i]) > 1) and pos[5] == 5
    held = split_intents([f"i{k}" for k in range(10)], 0.2, seed=0)
    assert len(held) == 2 and held == split_intents([f"i{k}" for k in range(10)], 0.2, seed=0)
    assert split_intents(["a", "b", "c"], 0.5, 0) == set() and split_intents(list("abcdef"), 0.0, 0) == set()


def test_train_pulls_intents_apart_and_resumes_where_it_stopped(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    base = tiny_sentence_transformer(tmp_path)
    texts, labels = toy_labelled()
    before = separation(SentenceTransformer(str(base), device="cpu"), texts, labels)
    settings = EmbedderSettings(epochs=2, batch_size=16, lr=1e-3, seed=0)
    st, stats = train_embedder(str(base), texts, labels, settings, tmp_path / "ck", "cpu")
    assert stats["steps"] == 2 * (len(texts) // 16) and stats["final_epoch_loss"] < stats["first_loss"]
    assert separation(st, texts, labels) > before + 0.05
    assert (tmp_path / "ck" / "epoch-2" / "optimizer.pt").is_file()
    more = settings.model_copy(update={"epochs": 3})
    _, resumed = train_embedder(str(base), texts, labels, more, tmp_path / "ck", "cpu", resume=True)
    assert resumed["resumed_from_epoch"] == 2 and resumed["steps"] == 3 * (len(texts) // 16)
    assert (tmp_path / "ck" / "epoch-3" / "dialin_state.json").is_file()


def test_finetune_embedder_writes_a_model_the_config_can_use(tmp_path: Path) -> None:
    base = tiny_sentence_transformer(tmp_path)
    data = labelled_file(tmp_path)
    m = finetune_embedder([str(data)], tmp_path / "out", base=str(base), holdout=0.34,
                          settings=EmbedderSettings(batch_size=16, lr=1e-3))
    assert len(m["holdout_intents"]) == 2 and m["validation"]["heldout_intents"] == 2
    assert {"nmi_base", "nmi_tuned"} <= set(m["validation"])
    rows = [json.loads(x) for x in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 4 * 32 and all(r["label"].startswith("labelled.jsonl:") for r in rows)
    assert not {r["label"] for r in rows} & set(m["holdout_intents"])
    emb = SentenceTransformerEmbedder(m["use"]["embedder"]["model"], progress=False)
    assert emb.encode(["card arrive"]).shape == (1, 32)
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["use"] == m["use"]


def test_a_retrained_folder_gets_a_new_cache_key(tmp_path: Path) -> None:
    base = tiny_sentence_transformer(tmp_path)
    first = SentenceTransformerEmbedder(str(base)).name
    assert first.startswith(str(base.resolve()) + "@") and SentenceTransformerEmbedder(str(base)).name == first
    texts, labels = toy_labelled(per=4)
    st, _ = train_embedder(str(base), texts, labels, EmbedderSettings(batch_size=8, lr=1e-3), tmp_path / "ck", "cpu")
    st.save(str(base))
    assert SentenceTransformerEmbedder(str(base)).name != first


def test_finetune_embedder_cli(tmp_path: Path) -> None:
    base = tiny_sentence_transformer(tmp_path)
    data = labelled_file(tmp_path, "intent")
    env = {"DIALIN_HOME": str(tmp_path / "home")}
    r = CliRunner().invoke(main, ["finetune", "embedder", "--data", str(data), "--label-col", "intent", "--base",
                                  str(base), "--batch-size", "16", "--lr", "1e-3", "--out", str(tmp_path / "o")], env=env)
    assert r.exit_code == 0, r.output
    assert "intents it never saw: K-means NMI" in r.output and "kind: sentence-transformers" in r.output
    assert str((tmp_path / "o" / "model").resolve()) in r.output
    r = CliRunner().invoke(main, ["finetune", "embedder", "--data", str(data), "--label-col", "intent", "--base",
                                  str(tmp_path / "nowhere"), "--out", str(tmp_path / "o2")], env=env)
    assert r.exit_code != 0 and "cannot load embedder" in r.output and not (tmp_path / "o2").exists()
    r = CliRunner().invoke(main, ["finetune", "embedder", "--data", str(data), "--base", str(base),
                                  "--out", str(tmp_path / "o3")], env=env)
    assert r.exit_code != 0 and "label" in r.output and not (tmp_path / "o3" / "model").exists()


def test_finetune_embedder_cli_refuses_lora_options(tmp_path: Path) -> None:
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps({"text": f"t{i}", "label": f"l{i % 2}"}) + "\n" for i in range(8)))
    r = CliRunner().invoke(main, ["finetune", "embedder", "--data", str(data), "--rank", "8",
                                  "--out", str(tmp_path / "o")], env={"DIALIN_HOME": str(tmp_path / "home")})
    assert r.exit_code != 0 and "--rank only apply to judge and namer" in r.output
    assert not (tmp_path / "o").exists()


def test_finetune_embedder_fits_a_coherence_model_on_the_held_out_intents(tmp_path: Path) -> None:
    from dialin.tools.coherence import load_model

    base = tiny_sentence_transformer(tmp_path)
    data = labelled_file(tmp_path)
    m = finetune_embedder([str(data)], tmp_path / "out", base=str(base), holdout=0.67,
                          settings=EmbedderSettings(batch_size=16, lr=1e-3))
    assert len(m["holdout_intents"]) == 4
    path = m["coherence_model"]["path"]
    assert "method" not in m["use"] and f"coherence_model: {path}" in m["coherence_model"]["use"]
    assert Path(path).is_file()
    model = load_model(path)
    assert model.embedder == SentenceTransformerEmbedder(m["use"]["embedder"]["model"]).name
    assert model.info["clusters"]["pure"] > 0
    few = finetune_embedder([str(data)], tmp_path / "out2", base=str(base), holdout=0.34,
                            settings=EmbedderSettings(batch_size=16, lr=1e-3))
    assert "skipped" in few["coherence_model"] and "path" not in few["coherence_model"]
