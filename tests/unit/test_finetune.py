"""dialin finetune on fakes: examples, names, a tiny random llama model trained, resumed and exported.

The real path (bundled SmolLM2 de-quantised by transformers, the GGUF LoRA served by
llama.cpp) is tests/integration/test_finetune_real.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")
gguf = pytest.importorskip("gguf")

from dialin.finetune.examples import (Example, judge_examples, label_to_name, namer_examples, read_jsonl,  # noqa: E402
                                      split_examples, write_jsonl)
from dialin.finetune.export import export_adapter, lora_tensors, permute_rows  # noqa: E402
from dialin.finetune.train import Base, TrainSettings, encode, train_lora, validate_judge  # noqa: E402
from dialin.agents.namer import is_valid_name  # noqa: E402


_WORDS = ["card", "loan", "fee", "pin", "atm", "cash"]


def _corpus(n_intents: int = 6, per: int = 14, dim: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_intents, dim))
    texts, labels, rows = [], [], []
    for k in range(n_intents):
        for j in range(per):
            texts.append(f"intent{k} sentence {j}")
            labels.append(f"topic_{_WORDS[k]}_query")
            rows.append(centres[k] + 0.3 * rng.normal(size=dim))
    X = np.array(rows)
    return texts, labels, X / np.linalg.norm(X, axis=1, keepdims=True)


@pytest.mark.parametrize("label,name", [
    ("cancel_transfer", "cancel-transfer"),
    ("alarm_set", "set-alarm"),
    ("card_arrival", "inquire-card_arrival"),
    ("balance_not_updated_after_bank_transfer", "inquire-balance_not_updated"),
    ("Refund not showing up", "inquire-refund_not_showing"),
    ("iot_hue_lightoff", "inquire-iot_hue_lightoff"),
])
def test_label_to_name(label: str, name: str) -> None:
    assert label_to_name(label) == name
    assert is_valid_name(name)


def test_judge_examples_cover_good_and_bad_with_the_tuned_prompt() -> None:
    texts, labels, X = _corpus()
    ex = judge_examples(texts, labels, X, count=40, n=6, seed=1, source="toy")
    answers = [e.answer for e in ex]
    assert set(answers) == {"good", "bad"}
    assert 0.3 <= answers.count("good") / len(answers) <= 0.7
    kinds = {e.difficulty for e in ex}
    assert {"pure", "mix2", "hard_intruder"} <= kinds
    first = ex[0]
    assert first.messages[0]["role"] == "system" and "one intent" in first.messages[0]["content"]
    assert first.messages[1]["content"].count("\n- ") == 5  # 6 sentences shown
    for e in ex:
        if e.difficulty == "pure":
            assert e.answer == "good" and len(e.intents) == 1
        elif e.difficulty != "real":
            assert e.answer == "bad" and len(e.intents) >= 2


def test_namer_examples_answer_the_gold_label_as_a_name(tmp_path: Path) -> None:
    texts, labels, X = _corpus()
    ex = namer_examples(texts, labels, X, count=6, n=5)
    assert sorted(e.answer for e in ex) == sorted(f"query-topic_{w}" for w in _WORDS)
    write_jsonl(tmp_path / "ex.jsonl", ex)
    assert read_jsonl(tmp_path / "ex.jsonl") == ex
    train, valid = split_examples(ex * 2, 0.25, seed=0)
    assert len(valid) == 3 and len(train) == 9


def test_permute_rows_is_the_inverse_of_what_transformers_undoes_when_loading_gguf() -> None:
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    w = np.arange(8 * 3 * 5, dtype=np.float32).reshape(8 * 5 // 5 * 3, 5)  # 24 rows = 4 heads x 6
    back = LlamaTensorProcessor(config={})._reverse_permute_weights(permute_rows(w, 4), 4, 4)
    assert np.array_equal(back, w)
    assert not np.array_equal(permute_rows(w, 4), w)


# ------------------------------------------------------------------ a tiny model, trained for real

def _tiny_base(tmp_path: Path) -> Base:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = ["[UNK]", "[PAD]", "<end>", "<system>", "<user>", "<assistant>", "good", "bad", "-"]
    words += [f"intent{k}" for k in range(6)] + ["sentence"] + [str(j) for j in range(14)]
    words += "Do these customer-service utterances share one intent (one action, objective)? Answer or".split()
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="<end>")
    hf_tok.chat_template = ("{% for m in messages %}<{{ m.role }}> {{ m.content }} <end> {% endfor %}"
                            "{% if add_generation_prompt %}<assistant> {% endif %}")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    return Base(LlamaForCausalLM(cfg), hf_tok, "tiny", None, "tiny/llama", "llama", "cpu")


def _toy_examples(count: int = 24) -> list[Example]:
    texts, labels, X = _corpus()
    return judge_examples(texts, labels, X, count=count, n=4, seed=0)


def test_encode_masks_the_prompt_and_learns_only_the_answer(tmp_path: Path) -> None:
    base = _tiny_base(tmp_path)
    ex = _toy_examples()[0]
    enc = encode(base.tokenizer, ex, 512)
    answer = [t for t in enc.labels if t != -100]
    assert base.tokenizer.decode(answer) == f"{ex.answer} <end>"
    assert enc.labels[:enc.prompt_len] == [-100] * enc.prompt_len


def test_train_resume_validate_and_export(tmp_path: Path) -> None:
    base = _tiny_base(tmp_path)
    train = _toy_examples()
    settings = TrainSettings(rank=4, alpha=8, epochs=1, batch_size=4, lr=5e-3, target_modules=["q_proj", "k_proj",
                                                                                                "v_proj", "o_proj"])
    events = []
    model, stats = train_lora(base, train, settings, tmp_path / "ck", progress=events.append)
    assert stats["epochs"] == 1 and stats["steps"] == len(events) == -(-len(train) // 4)
    assert (tmp_path / "ck" / "epoch-1" / "adapter_config.json").is_file()
    # a second call with --resume and 2 epochs continues from epoch 1 (on a fresh base)
    base2 = _tiny_base(tmp_path)
    model2, stats2 = train_lora(base2, train, settings.model_copy(update={"epochs": 2}), tmp_path / "ck",
                                resume=True)
    assert stats2["resumed_from_epoch"] == 1 and stats2["steps"] == 2 * stats["steps"]
    assert (tmp_path / "ck" / "epoch-2").is_dir()
    v = validate_judge(model2, base2, train[:8])
    assert v["n"] == 8 and 0.0 <= v["accuracy"] <= 1.0

    paths = export_adapter(model2, tmp_path / "out", arch="llama", hf_id="tiny/llama", alpha=8, name="judge")
    cfg = json.loads((Path(paths["peft"]) / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == "tiny/llama" and cfg["r"] == 4
    reader = gguf.GGUFReader(paths["gguf"])
    fields = {k: reader.fields[k] for k in ("general.type", "adapter.type", "adapter.lora.alpha")}
    assert bytes(fields["general.type"].parts[-1]).decode() == "adapter"
    assert bytes(fields["adapter.type"].parts[-1]).decode() == "lora"
    assert float(fields["adapter.lora.alpha"].parts[-1][0]) == 8.0
    shapes = {t.name: tuple(int(x) for x in t.shape) for t in reader.tensors}
    assert len(shapes) == 2 * 2 * 4  # 2 layers x 4 modules x (A, B)
    # ggml shapes are reversed numpy shapes: A (rank, in) -> [in, rank]; B (out, rank) -> [rank, out]
    assert shapes["blk.0.attn_q.weight.lora_a"] == (32, 4)
    assert shapes["blk.0.attn_q.weight.lora_b"] == (4, 32)
    assert shapes["blk.1.attn_k.weight.lora_b"] == (4, 16)  # 2 kv heads x 8


def test_lora_tensors_permute_q_and_k_b_for_llama_only() -> None:
    a = torch.arange(4 * 8, dtype=torch.float32).reshape(4, 8)
    b = torch.arange(8 * 4, dtype=torch.float32).reshape(8, 4)
    state = {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": a,
             "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": b,
             "base_model.model.model.layers.0.mlp.down_proj.lora_B.weight": b}
    llama = lora_tensors(state, "llama", n_head=2, n_head_kv=2)
    qwen = lora_tensors(state, "qwen2", n_head=2, n_head_kv=2)
    assert np.array_equal(llama["blk.0.attn_q.weight.lora_a"], a.numpy())
    assert np.array_equal(llama["blk.0.attn_q.weight.lora_b"], permute_rows(b.numpy(), 2))
    assert np.array_equal(qwen["blk.0.attn_q.weight.lora_b"], b.numpy())
    assert np.array_equal(llama["blk.0.ffn_down.weight.lora_b"], b.numpy())


def test_left_padded_answer_loss_equals_each_example_alone(tmp_path: Path) -> None:
    """Batching (left padding, logits for the last positions only) must not change what is learnt."""
    from dialin.finetune.train import _collate, answer_loss

    base = _tiny_base(tmp_path)
    base.model.eval()
    exs = _toy_examples()[:4]
    exs = [ex.model_copy(update={"messages": [ex.messages[0], {"role": "user", "content": ex.messages[1]["content"]
                                                                + " - sentence 3" * i}]}) for i, ex in enumerate(exs)]
    enc = [encode(base.tokenizer, ex, 512) for ex in exs]
    assert len({len(e.ids) for e in enc}) > 1  # the batch really needs padding
    with torch.no_grad():
        batched = float(answer_loss(base.model, _collate(enc, base.tokenizer.pad_token_id, "cpu")))
        alone = []
        for e in enc:
            ids = torch.tensor([e.ids])
            logits = base.model(input_ids=ids).logits[0, :-1]
            target = torch.tensor(e.labels[1:])
            alone.append(torch.nn.functional.cross_entropy(logits, target, ignore_index=-100, reduction="sum"))
        n_answer = sum(sum(1 for t in e.labels if t != -100) for e in enc)
    assert batched == pytest.approx(float(sum(alone)) / n_answer, rel=1e-4)


@pytest.mark.parametrize("args,message", [
    (["--data", "missing.jsonl"], "missing.jsonl is not a file"),
    (["--examples", "5"], "at least 10 examples"),
    (["--holdout", "0.95"], "must be in"),
    (["--base", "bundled:nope"], "unknown bundled model 'nope'"),
    (["--base", "/no/such/model"], "neither bundled:NAME"),
])
def test_finetune_cli_names_bad_input_before_any_work(tmp_path: Path, args: list[str], message: str) -> None:
    from click.testing import CliRunner

    from dialin.cli import main

    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"text": f"t{i}", "label": f"l{i % 2}"}) + "\n" for i in range(4)))
    base_args = ["finetune", "judge", "--out", str(tmp_path / "out")]
    if "--data" not in args:
        base_args += ["--data", str(data)]
    result = CliRunner().invoke(main, base_args + args)
    assert result.exit_code != 0
    assert message in result.output
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_finetune_cli_prints_where_the_adapters_are_and_the_config_that_uses_them(tmp_path: Path,
                                                                                 monkeypatch) -> None:
    from click.testing import CliRunner

    import dialin.finetune.run as run_mod
    from dialin.cli import main

    paths = {"peft": str(tmp_path / "peft"), "gguf": str(tmp_path / "judge-lora.gguf")}
    seen = {}

    def fake_finetune(task, data, out, **kw):  # noqa: ANN001, ANN003, ANN202
        seen.update(task=task, data=data, out=out, settings=kw["settings"])
        return {"train": {"examples": 36}, "seconds": {"total": 12.0}, "device": "cpu",
                "validation": {"n": 4, "auc": 0.75, "accuracy": 0.5}, "paths": paths,
                "use": run_mod.usage_config("judge", paths, "bundled:smollm2-135m", "HuggingFaceTB/SmolLM2-135M-Instruct")}

    monkeypatch.setattr(run_mod, "finetune", fake_finetune)
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "a", "label": "x"}\n')
    result = CliRunner().invoke(main, ["finetune", "judge", "--data", str(data), "--out", str(tmp_path / "o"),
                                       "--rank", "8", "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert seen["settings"].rank == 8 and seen["settings"].alpha == 16 and seen["settings"].epochs == 3
    assert f"llama.cpp adapter: {paths['gguf']}" in result.output
    assert "lora_path: " + paths["gguf"] in result.output and "prompt: judge_tuned" in result.output
    assert "--lora-modules judge=" + paths["peft"] in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: --device cuda is valid here")
def test_finetune_cli_refuses_cuda_without_a_gpu_before_any_work(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from dialin.cli import main

    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"text": f"t{i}", "label": f"l{i % 2}"}) + "\n" for i in range(4)))
    result = CliRunner().invoke(main, ["finetune", "judge", "--data", str(data), "--out", str(tmp_path / "out"),
                                       "--base", "bundled:smollm2-135m", "--device", "cuda"])
    assert result.exit_code != 0 and "torch sees no GPU" in result.output
    assert not (tmp_path / "out" / "train.jsonl").exists()


@pytest.mark.parametrize("task", ["judge", "namer"])
def test_the_printed_config_fragment_is_valid_inside_the_shipped_config(task: str, tmp_path: Path) -> None:
    import yaml

    from dialin.config import _deep_merge, load_config
    from dialin.finetune.run import usage_config

    gguf_path = tmp_path / f"{task}-lora.gguf"
    use = usage_config(task, {"peft": str(tmp_path / "peft"), "gguf": str(gguf_path)}, "bundled:smollm2-135m",
                       "HuggingFaceTB/SmolLM2-135M-Instruct")
    use.pop("vllm")
    base = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "local.yaml").read_text())
    merged = tmp_path / "merged.yaml"
    merged.write_text(yaml.safe_dump(_deep_merge(base, use)))
    config = load_config(merged)
    assert config.roles[task].endpoint == f"{task}_lora" and not config.roles[task].logprobs
