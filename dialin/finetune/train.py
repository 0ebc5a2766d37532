"""LoRA training (peft) for the judge and namer roles, on CPU or a GPU.

The base model is what the local runtime serves: a bundled GGUF (``bundled:NAME``) or a
``.gguf`` path is loaded by transformers, which de-quantises it, so the adapter learns on
exactly the weights llama.cpp will apply it to; a Hugging Face model folder works too.
Loss is on the answer tokens only (prompt tokens are masked). Each epoch ends with a
checkpoint in ``OUT/checkpoints/``, so ``--resume`` continues an interrupted run.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from dialin.errors import ConfigError
from dialin.finetune.examples import Example
from dialin.measure.metrics import roc_auc
from dialin.llm.gguf import BUNDLED, BUNDLED_PREFIX, bundled_model_path

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class TrainSettings(BaseModel):
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    lr: float = 2e-4
    epochs: int = 2
    batch_size: int = 8
    max_len: int = 512
    seed: int = 0
    device: str = "auto"
    """auto (cuda when torch sees a GPU, else cpu), cpu or cuda."""
    target_modules: list[str] = list(TARGET_MODULES)


@dataclass
class Base:
    """A loaded base model, its tokenizer and where it came from."""

    model: Any
    tokenizer: Any
    source: str
    gguf_path: str | None
    hf_id: str
    arch: str
    device: str


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise ConfigError(f"dialin finetune needs '{module}': pip install 'dialin[finetune]' "
                          "(peft, accelerate, gguf; torch and transformers come with sentence-transformers)") from None


def resolve_base(base: str) -> tuple[str | None, str | None, str]:
    """(gguf path, HF folder, upstream HF id) for ``bundled:NAME``, a ``.gguf`` file or a model folder."""
    if base.startswith(BUNDLED_PREFIX):
        name = base[len(BUNDLED_PREFIX):]
        if name not in BUNDLED:
            raise ConfigError(f"unknown bundled model '{name}'; choose from {sorted(BUNDLED)}")
        return str(bundled_model_path(name)), None, BUNDLED[name].hf_id
    path = Path(base).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return str(path), None, ""
    if path.is_dir() and (path / "config.json").is_file():
        return None, str(path), str(path)
    raise ConfigError(f"--base {base!r} is neither bundled:NAME ({', '.join(sorted(BUNDLED))}), a .gguf file, "
                      "nor a Hugging Face model folder with config.json")


def pick_device(wanted: str) -> str:
    torch = _require("torch")
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: torch sees no GPU here; use --device auto or cpu")
    return wanted


def load_base(base: str, device: str = "auto") -> Base:
    torch = _require("torch")
    transformers = _require("transformers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    gguf_path, folder, hf_id = resolve_base(base)
    dev = pick_device(device)
    dtype = torch.bfloat16 if dev == "cuda" else torch.float32
    if gguf_path:
        _require("gguf")
        d, f = os.path.dirname(gguf_path), os.path.basename(gguf_path)
        tok = transformers.AutoTokenizer.from_pretrained(d, gguf_file=f)
        model = transformers.AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=dtype)
    else:
        tok = transformers.AutoTokenizer.from_pretrained(folder)
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model.to(dev)
    return Base(model, tok, base, gguf_path, hf_id, model.config.model_type, dev)


# ------------------------------------------------------------------------------ tokenising

@dataclass
class Encoded:
    ids: list[int]
    labels: list[int]
    """-100 on prompt tokens: only the answer (and its end-of-turn token) is learnt."""
    prompt_len: int


def encode(tokenizer: Any, ex: Example, max_len: int) -> Encoded:
    prompt = tokenizer.apply_chat_template(ex.messages, add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(ex.messages + [{"role": "assistant", "content": ex.answer}], tokenize=False)
    if not full.startswith(prompt):
        raise ConfigError("the base model's chat template does not extend the prompt with the answer; "
                          "finetune needs a chat model (an instruct GGUF)")
    answer = full[len(prompt):].rstrip("\n")
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    a_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    p_ids = p_ids[-(max_len - len(a_ids)):]  # keep the end of an over-long prompt (the question)
    return Encoded(p_ids + a_ids, [-100] * len(p_ids) + a_ids, len(p_ids))


def answer_token_ids(tokenizer: Any, answers: Sequence[str]) -> list[int]:
    """First token of each answer as the model would emit it right after the generation prompt."""
    return [tokenizer(a, add_special_tokens=False)["input_ids"][0] for a in answers]


# ------------------------------------------------------------------------------ training

def _batches(items: list[Encoded], size: int, rng: random.Random) -> list[list[Encoded]]:
    """Shuffled batches of similar length (less padding): sort within shuffled chunks of 8 batches."""
    order = items[:]
    rng.shuffle(order)
    chunk = size * 8
    out = []
    for s in range(0, len(order), chunk):
        part = sorted(order[s:s + chunk], key=lambda e: len(e.ids))
        out.extend(part[i:i + size] for i in range(0, len(part), size))
    rng.shuffle(out)
    return out


def _collate(batch: list[Encoded], pad_id: int, device: str) -> dict[str, Any]:
    """Left-padded batch: every row ENDS with its answer, so the vocabulary projection (151k columns
    for Qwen) is computed only for the last few positions (``logits_to_keep``): on CPU this is most of
    the memory of a step. Positions count from each row's first real token, as in unpadded serving."""
    torch = _require("torch")
    width = max(len(e.ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for r, e in enumerate(batch):
        ids[r, width - len(e.ids):] = torch.tensor(e.ids)
        labels[r, width - len(e.labels):] = torch.tensor(e.labels)
        mask[r, width - len(e.ids):] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": mask.to(device),
            "position_ids": positions.to(device)}


def answer_loss(model: Any, batch: dict[str, Any]) -> Any:
    """Mean cross-entropy over the answer tokens, with logits for the batch's last positions only."""
    torch = _require("torch")
    labels = batch["labels"]
    learnt = (labels != -100).any(dim=0).nonzero()
    keep = int(labels.shape[1] - learnt.min()) + 1 if len(learnt) else 1
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   position_ids=batch["position_ids"], logits_to_keep=keep).logits
    # logits[:, j] predicts the token after position (width - keep + j)
    target = labels[:, labels.shape[1] - keep + 1:]
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
                                             target.reshape(-1), ignore_index=-100)


Progress = Callable[[dict[str, Any]], None]


def train_lora(base: Base, train: list[Example], settings: TrainSettings, checkpoint_dir: Path,
               resume: bool = False, progress: Progress | None = None) -> tuple[Any, dict[str, Any]]:
    """Wrap ``base.model`` in a LoRA adapter and train it; returns (peft model, stats)."""
    torch = _require("torch")
    peft = _require("peft")
    random.seed(settings.seed)
    np.random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    start_epoch = 0
    latest = latest_checkpoint(checkpoint_dir) if resume else None
    if latest is not None:
        model = peft.PeftModel.from_pretrained(base.model, str(latest[1]), is_trainable=True)
        start_epoch = latest[0]
    else:
        config = peft.LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                                 target_modules=list(settings.target_modules), task_type="CAUSAL_LM")
        model = peft.get_peft_model(base.model, config)
    encoded = [encode(base.tokenizer, ex, settings.max_len) for ex in train]
    rng = random.Random(settings.seed)
    per_epoch = math.ceil(len(encoded) / settings.batch_size)
    total = per_epoch * settings.epochs
    params = [p for p in model.parameters() if p.requires_grad]
    opt, sched = optimizer_with_schedule(params, settings.lr, total, max(1, total // 20), start_epoch * per_epoch,
                                         latest, floor=0.05, weight_decay=0.0)
    losses: list[float] = []
    tokens = 0
    t0 = time.perf_counter()
    step = start_epoch * per_epoch
    model.train()
    for epoch in range(settings.epochs):
        batches = _batches(encoded, settings.batch_size, rng)  # drawn every epoch: a resume reshuffles the same way
        if epoch < start_epoch:
            continue
        for batch in batches:
            loss = answer_loss(model, _collate(batch, base.tokenizer.pad_token_id, base.device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            tokens += sum(len(e.ids) for e in batch)
            losses.append(float(loss.detach()))
            if progress:
                progress({"epoch": epoch + 1, "step": step, "steps": total, "loss": losses[-1],
                          "elapsed_s": time.perf_counter() - t0})
        save_checkpoint(checkpoint_dir, epoch + 1, step, model.save_pretrained, opt)
    model.eval()
    seconds = time.perf_counter() - t0
    tail = losses[-max(1, per_epoch):]
    return model, {"examples": len(train), "epochs": settings.epochs, "resumed_from_epoch": start_epoch,
                   "steps": step, "train_tokens": tokens, "train_seconds": round(seconds, 1),
                   "tokens_per_second": round(tokens / seconds, 1) if seconds > 0 else None,
                   "final_epoch_loss": round(float(np.mean(tail)), 4) if losses else None}


def optimizer_with_schedule(params: Any, lr: float, total: int, warmup: int, offset: int,
                            latest: tuple[int, Path] | None, floor: float = 0.0,
                            weight_decay: float = 0.01) -> tuple[Any, Any]:
    """AdamW with a linear warm-up over ``warmup`` steps and a linear decay to ``floor`` x lr at ``total``.

    ``offset`` is the step a resumed run starts at (the schedule continues where the checkpoint left it);
    ``latest`` is that checkpoint, whose optimizer state is loaded when it has one."""
    import torch

    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + offset + 1) / max(1, warmup)) * max(floor, 1 - (s + offset) / max(1, total)))
    if latest is not None and (latest[1] / "optimizer.pt").is_file():
        opt.load_state_dict(torch.load(latest[1] / "optimizer.pt", weights_only=True))
    return opt, sched


def save_checkpoint(folder: Path, epoch: int, step: int, save: Callable[[str], Any], optimizer: Any) -> None:
    """OUT/checkpoints/epoch-N: the weights (``save(path)``), the optimizer, and last the state file that marks it whole."""
    import torch

    path = folder / f"epoch-{epoch}"
    save(str(path))
    torch.save(optimizer.state_dict(), path / "optimizer.pt")
    (path / "dialin_state.json").write_text(json.dumps({"epoch": epoch, "step": step}), encoding="utf-8")


def latest_checkpoint(folder: Path, weights: str = "adapter_config.json") -> tuple[int, Path] | None:
    """(epoch, folder) of the newest complete checkpoint: its state file and ``weights`` both written."""
    best = None
    for path in folder.glob("epoch-*"):
        state = path / "dialin_state.json"
        if state.is_file() and (path / weights).is_file():
            epoch = int(json.loads(state.read_text(encoding="utf-8"))["epoch"])
            if best is None or epoch > best[0]:
                best = (epoch, path)
    return best


# ------------------------------------------------------------------------------ validation

def judge_probabilities(model: Any, base: Base, examples: Sequence[Example], batch_size: int = 8) -> list[float]:
    """P(good) over {good, bad} at the answer position, from the (tuned) model itself."""
    torch = _require("torch")
    good, bad = answer_token_ids(base.tokenizer, ["good", "bad"])
    out: list[float] = []
    with torch.no_grad():
        for s in range(0, len(examples), batch_size):
            enc = [encode(base.tokenizer, ex, 4096) for ex in examples[s:s + batch_size]]
            prompts = [Encoded(e.ids[:e.prompt_len], e.labels[:e.prompt_len], e.prompt_len) for e in enc]
            batch = _collate(prompts, base.tokenizer.pad_token_id, base.device)
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           position_ids=batch["position_ids"], logits_to_keep=1).logits
            two = torch.softmax(logits[:, -1, [good, bad]].float(), dim=-1)
            out.extend(float(p) for p in two[:, 0])
    return out


def validate_judge(model: Any, base: Base, examples: Sequence[Example]) -> dict[str, Any]:
    if not examples:
        return {}
    p = np.array(judge_probabilities(model, base, examples))
    y = np.array([ex.answer == "good" for ex in examples])
    return {"n": len(examples), "auc": round(roc_auc(y, p), 4) if 0 < y.sum() < len(y) else None,
            "accuracy": round(float(((p >= 0.5) == y).mean()), 4)}


def generate_answers(model: Any, base: Base, examples: Sequence[Example], max_new_tokens: int = 16) -> list[str]:
    torch = _require("torch")
    answers = []
    with torch.no_grad():
        for ex in examples:
            e = encode(base.tokenizer, ex, 4096)
            ids = torch.tensor([e.ids[:e.prompt_len]], device=base.device)
            gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                 do_sample=False, pad_token_id=base.tokenizer.pad_token_id)
            answers.append(base.tokenizer.decode(gen[0, e.prompt_len:], skip_special_tokens=True).strip())
    return answers


def validate_namer(model: Any, base: Base, examples: Sequence[Example]) -> dict[str, Any]:
    if not examples:
        return {}
    got = generate_answers(model, base, examples)
    return {"n": len(examples), "exact": round(float(np.mean([g == ex.answer for g, ex in zip(got, examples)])), 4),
            "samples": [{"expected": ex.answer, "got": g} for g, ex in list(zip(got, examples))[:5]]}
