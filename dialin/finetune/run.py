"""``dialin finetune judge|namer|embedder``: labelled corpora -> examples -> LoRA -> adapters + manifest.

``OUT/`` receives ``train.jsonl`` and ``valid.jsonl`` (the examples, written before any
training so a crash loses nothing), ``checkpoints/epoch-N/`` (``--resume`` continues from
the latest), ``peft/`` (vLLM), ``TASK-lora.gguf`` (llama.cpp) and ``manifest.json`` (base,
settings, timings, validation scores, and the config that uses the adapter).
``embedder`` fine-tunes the sentence embedder itself (``dialin.finetune.embedder``): ``OUT/model``;
``pairs`` trains a pair judge, a cross-encoder for "same intent?" (``dialin.finetune.pairs``): ``OUT/model``.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dialin.config import Config, min_answer_tokens
from dialin.data import load_corpus
from dialin.embed import make_embedder
from dialin.errors import ConfigError, DataError
from dialin.finetune.examples import PROMPTS, Example, Task, build_examples, read_jsonl, split_examples, write_jsonl
from dialin.finetune.train import (Progress, TrainSettings, load_base, pick_device, resolve_base, train_lora,
                                   validate_judge, validate_namer)
from dialin.measure.judge_eval import unique_labels
from dialin.store import Store

if TYPE_CHECKING:
    from dialin.finetune.embedder import EmbedderSettings
    from dialin.finetune.pairs import PairSettings


def make_examples(task: Task, data: Sequence[str], *, config: Config, count: int, n: int, seed: int,
                  label_col: str = "label", text_col: str = "text", split: str | None = None) -> list[Example]:
    """`count` examples split evenly over the corpora in `data` (each embedded with the configured embedder)."""
    store = Store(config.store_path())
    embedder = make_embedder(config.embedder.model_copy(update={"progress": False}), store)
    out: list[Example] = []
    for i, path in enumerate(data):
        corpus = load_corpus(path, text_col=text_col, label_col=label_col, split=split, skip_blank=True)
        labels = unique_labels(corpus)
        if len(set(labels)) < 2:
            raise DataError(f"{path}: finetune needs at least 2 gold intents in '{label_col}'")
        X = np.asarray(embedder.encode(corpus.unique_texts), dtype=np.float64)
        share = count // len(data) + (1 if i < count % len(data) else 0)
        out.extend(build_examples(task, corpus.unique_texts, labels, X, count=share, n=n, seed=seed + i,
                                  source=Path(path).name))
    return out


def usage_config(task: Task, paths: dict[str, str], base: str, hf_id: str) -> dict[str, Any]:
    """The config fragment that puts the adapter to work on llama.cpp, plus (key ``vllm``) the vLLM command."""
    role: dict[str, Any] = {"endpoint": f"{task}_lora", "model": f"{task}-lora", "prompt": PROMPTS[task],
                            "logprobs": False}  # the endpoint runs without logits_all, so it has none to give
    if task == "judge":
        role["max_tokens"] = min_answer_tokens()  # the longest answer fits whatever the tokenizer
    frag: dict[str, Any] = {
        "endpoints": {f"{task}_lora": {"base_url": "auto", "backend": "llamacpp", "model_path": base,
                                       "server_args": {"logits_all": False, "lora_path": paths["gguf"]}}},
        "roles": {task: role},
    }
    if task == "namer":
        frag["method"] = {"grounded_names": False}
    frag["vllm"] = (f"vllm serve {hf_id or 'BASE'} --enable-lora --lora-modules {task}={paths['peft']} "
                    f"--max-lora-rank 64; then roles.{task}: {{endpoint: <vllm>, model: {task}, "
                    f"prompt: {PROMPTS[task]}}}")
    return frag


def finetune(task: Task, data: Sequence[str], out: Path, *, config: Config, base: str, count: int = 400,
             n: int = 10, holdout: float = 0.1, settings: TrainSettings | None = None, resume: bool = False,
             label_col: str = "label", text_col: str = "text", split: str | None = None,
             progress: Progress | None = None) -> dict[str, Any]:
    settings = settings or TrainSettings()
    resolve_base(base)  # a wrong --base or --device fails before minutes of example building
    pick_device(settings.device)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train_path, valid_path = out / "train.jsonl", out / "valid.jsonl"
    if resume and train_path.is_file():
        train, valid = read_jsonl(train_path), read_jsonl(valid_path) if valid_path.is_file() else []
    else:
        examples = make_examples(task, data, config=config, count=count, n=n, seed=settings.seed,
                                 label_col=label_col, text_col=text_col, split=split)
        train, valid = split_examples(examples, holdout, settings.seed)
        write_jsonl(train_path, train)
        write_jsonl(valid_path, valid)
    t_examples = time.perf_counter() - t0
    b = load_base(base, settings.device)
    t_load = time.perf_counter() - t0 - t_examples
    model, stats = train_lora(b, train, settings, out / "checkpoints", resume=resume, progress=progress)
    t1 = time.perf_counter()
    validation = validate_judge(model, b, valid) if task == "judge" else validate_namer(model, b, valid)
    t_valid = time.perf_counter() - t1
    from dialin.finetune.export import export_adapter

    paths = export_adapter(model, out, arch=b.arch, hf_id=b.hf_id, alpha=settings.alpha, name=task)
    manifest = {
        "task": task, "base": base, "base_hf_id": b.hf_id, "arch": b.arch, "device": b.device,
        "prompt": PROMPTS[task], "data": [str(p) for p in data], "split": split, "count": count, "n": n,
        "settings": settings.model_dump(), "train": stats, "validation": validation, "paths": paths,
        "seconds": {"examples": round(t_examples, 1), "load": round(t_load, 1), "train": stats["train_seconds"],
                    "validate": round(t_valid, 1), "total": round(time.perf_counter() - t0, 1)},
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "use": usage_config(task, paths, base, b.hf_id),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def write_split(out: Path, texts: Sequence[str], labels: Sequence[str], held: set[str]) -> tuple[list[int], list[int]]:
    """OUT/train.jsonl and OUT/valid.jsonl (the ``held`` intents), written before training; their row indices."""
    out.mkdir(parents=True, exist_ok=True)
    tr = [i for i, lab in enumerate(labels) if lab not in held]
    va = [i for i, lab in enumerate(labels) if lab in held]
    for name, rows in (("train", tr), ("valid", va)):
        with (out / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for i in rows:
                f.write(json.dumps({"text": texts[i], "label": labels[i]}, ensure_ascii=False) + "\n")
    return tr, va


def labelled_sentences(data: Sequence[str], *, label_col: str = "label", text_col: str = "text",
                       split: str | None = None) -> tuple[list[str], list[str]]:
    """Unique sentences of every corpus and their intents, namespaced by corpus (``file:label``)."""
    texts: list[str] = []
    labels: list[str] = []
    for path in data:
        corpus = load_corpus(path, text_col=text_col, label_col=label_col, split=split, skip_blank=True)
        labs = unique_labels(corpus)
        if len(set(labs)) < 2:
            raise DataError(f"{path}: finetune needs at least 2 gold intents in '{label_col}'")
        texts.extend(corpus.unique_texts)
        labels.extend(f"{Path(path).name}:{lab}" for lab in labs)
    return texts, labels


def finetune_embedder(data: Sequence[str], out: Path, *, base: str, holdout: float = 0.2,
                      settings: "EmbedderSettings | None" = None, resume: bool = False, label_col: str = "label",
                      text_col: str = "text", split: str | None = None,
                      progress: Progress | None = None) -> dict[str, Any]:
    """Fine-tune the embedder on labelled sentences; OUT/model is a sentence-transformers folder."""
    from dialin.embed import load_sentence_transformer
    from dialin.finetune.embedder import EmbedderSettings, split_intents, train_embedder, validate_embedder

    settings = settings or EmbedderSettings()
    device = pick_device(settings.device)
    base_model = load_sentence_transformer(base, device=device)  # a wrong --base fails before anything is written
    t0 = time.perf_counter()
    texts, labels = labelled_sentences(data, label_col=label_col, text_col=text_col, split=split)
    held = split_intents(labels, holdout, settings.seed)
    tr, va = write_split(out, texts, labels, held)
    train = [(texts[i], labels[i]) for i in tr]
    valid = [(texts[i], labels[i]) for i in va]
    model, stats = train_embedder(base, [t for t, _ in train], [lab for _, lab in train], settings,
                                  out / "checkpoints", device, resume=resume, progress=progress)
    t1 = time.perf_counter()
    validation = validate_embedder(base_model, model, [t for t, _ in valid], [lab for _, lab in valid],
                                   settings.seed) if valid else {}
    t_valid = time.perf_counter() - t1
    model_dir = out / "model"
    model.save(str(model_dir))
    use: dict[str, Any] = {"embedder": {"kind": "sentence-transformers", "model": str(model_dir.resolve())}}
    coherence = _fit_coherence(model, model_dir, [t for t, _ in valid], [lab for _, lab in valid], settings.seed)
    manifest = {
        "task": "embedder", "base": base, "device": device, "data": [str(p) for p in data], "split": split,
        "holdout_intents": sorted(held), "settings": settings.model_dump(), "train": stats,
        "validation": validation, "coherence_model": coherence, "paths": {"model": str(model_dir)},
        "seconds": {"train": stats["train_seconds"], "validate": round(t_valid, 1),
                    "total": round(time.perf_counter() - t0, 1)},
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "use": use,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def _fit_coherence(model: Any, model_dir: Path, texts: list[str], labels: list[str], seed: int) -> dict[str, Any]:
    """A coherence model for the tuned vectors, fitted on the held-out intents (never trained on):
    OUT/coherence_model.json, or why there is none. Opt-in (``method.coherence_model``): measured, it does not
    beat cohesion on small corpora."""
    from dialin.embed import SentenceTransformerEmbedder
    from dialin.tools.coherence import save_model
    from dialin.finetune.coherence_fit import fit_on_corpus

    if len(set(labels)) < 4:
        return {"skipped": "fewer than 4 held-out intents (--holdout): the cascade will score by cohesion"}
    X = np.asarray(model.encode(texts, batch_size=128, normalize_embeddings=True, convert_to_numpy=True),
                   dtype=np.float64)
    name = SentenceTransformerEmbedder(str(model_dir)).name
    try:
        fitted = fit_on_corpus(labels, X, name, seed=seed, info={"data": "held-out intents of dialin finetune embedder"})
    except ValueError as exc:
        return {"skipped": f"{exc}: the cascade will score by cohesion"}
    path = model_dir.parent / "coherence_model.json"
    save_model(fitted, path)
    return {"path": str(path.resolve()), "clusters": fitted.info.get("clusters"), "coef": list(fitted.coef),
            "intercept": fitted.intercept,
            "use": f"method: {{coherence_model: {path.resolve()}}} makes the cascade score by it; without, a run "
                   "under this embedder scores by cohesion (docs/BENCHMARKS.md section 6 compares the two)"}


def finetune_pairs(data: Sequence[str], out: Path, *, config: Config, base: str, holdout: float = 0.2,
                   settings: "PairSettings | None" = None, resume: bool = False, label_col: str = "label",
                   text_col: str = "text", split: str | None = None,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Train a pair judge (cross-encoder, "same intent?") on labelled sentences; OUT/model is its folder."""
    import torch

    from dialin.embed import sentence_transformer_path
    from dialin.finetune.embedder import split_intents
    from dialin.finetune.pairs import PairSettings, load_cross_encoder, train_pairs, validate_pairs
    from dialin.tools.pair_judge import PairJudge

    settings = settings or PairSettings()
    device = pick_device(settings.device)
    folder = sentence_transformer_path(base) if base.startswith("bundled:") else str(Path(base).expanduser())
    if not (Path(folder) / "config.json").is_file():
        raise ConfigError(f"--base {base}: not a transformer folder (no config.json); use a sentence-transformers "
                          "or BERT-style folder, e.g. OUT/model of `dialin finetune embedder`, or the default")
    torch.manual_seed(settings.seed)  # the new head's initial weights
    loaded = load_cross_encoder(folder, device)  # a base transformers cannot read fails before anything is written
    t0 = time.perf_counter()
    texts, labels = labelled_sentences(data, label_col=label_col, text_col=text_col, split=split)
    held = split_intents(labels, holdout, settings.seed)
    store = Store(config.store_path())
    embedder = make_embedder(config.embedder.model_copy(update={"progress": False}), store)
    X = np.asarray(embedder.encode(texts), dtype=np.float64)
    tr, va = write_split(out, texts, labels, held)
    tok, model, stats = train_pairs(folder, [texts[i] for i in tr], [labels[i] for i in tr], X[tr], settings,
                                    out / "checkpoints", device, resume=resume, progress=progress, loaded=loaded)
    model_dir = out / "model"
    model.save_pretrained(str(model_dir))
    tok.save_pretrained(str(model_dir))
    t1 = time.perf_counter()
    validation: dict[str, Any] = {}
    if len(set(labels[i] for i in va)) >= 2:
        judge = PairJudge(model_dir, device=device)
        validation = validate_pairs(judge.p_same, [texts[i] for i in va], [labels[i] for i in va], X[va],
                                    settings.seed)
    t_valid = time.perf_counter() - t1
    method: dict[str, Any] = {"cascade_scorer": "pairs", "pair_model": str(model_dir.resolve())}
    casc = validation.get("cascade", {})
    if casc:
        method["cascade_low"], method["cascade_high"] = casc["low"], casc["high"]
    manifest = {
        "task": "pairs", "base": base, "device": device, "data": [str(p) for p in data], "split": split,
        "holdout_intents": sorted(held), "settings": settings.model_dump(), "train": stats,
        "validation": validation, "paths": {"model": str(model_dir)},
        "seconds": {"train": stats["train_seconds"], "validate": round(t_valid, 1),
                    "total": round(time.perf_counter() - t0, 1)},
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "use": {"method": method},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest
