"""``dialin finetune judge|namer|embedder|pairs``: train a LoRA adapter for a role, the embedder, or a pair judge."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from dialin.config import load_config
from dialin.embed import BUNDLED_MINILM

TASKS = ("judge", "namer", "embedder", "pairs")
DEFAULTS = {"lora": {"base": "bundled:qwen2.5-coder-0.5b", "epochs": 2, "lr": 2e-4, "batch_size": 8, "holdout": 0.1},
            "embedder": {"epochs": 1, "lr": 2e-5, "batch_size": 64, "holdout": 0.2},
            "pairs": {"epochs": 2, "lr": 4e-5, "batch_size": 32, "holdout": 0.2}}
"""Per-task defaults of the options left unset; the embedder's base is the config's embedder, the pair judge's
the bundled MiniLM."""


@click.command("finetune")
@click.argument("task", type=click.Choice(TASKS))
@click.option("--data", "data", multiple=True, required=True, type=click.Path(),
              help="Labelled corpus (CSV/TSV/JSONL with text + label); repeat for several.")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: $DIALIN_HOME/adapters/TASK).")
@click.option("--base", default=None,
              help="Base model: bundled:NAME, a .gguf file, or a Hugging Face model folder (judge/namer; default "
                   "bundled:qwen2.5-coder-0.5b); embedder: a sentence-transformers folder (default: the config's); "
                   "pairs: a BERT-style folder (default: the bundled MiniLM).")
@click.option("--text-col", default="text", show_default=True)
@click.option("--label-col", default="label", show_default=True)
@click.option("--split", default=None, help="Keep rows whose 'split' column equals this (e.g. train).")
@click.option("--examples", "count", type=int, default=400, show_default=True, help="Training examples in all.")
@click.option("--n", "n", type=int, default=10, show_default=True, help="Sentences shown per example.")
@click.option("--epochs", type=int, default=None, help="Default 2 (judge/namer/pairs), 1 (embedder).")
@click.option("--rank", type=int, default=16, show_default=True)
@click.option("--lr", type=float, default=None, help="Default 2e-4 (LoRA), 2e-5 (embedder), 4e-5 (pairs).")
@click.option("--batch-size", type=int, default=None, help="Default 8 (LoRA), 64 (embedder), 32 (pairs).")
@click.option("--holdout", type=float, default=None,
              help="Kept for validation: share of examples (judge/namer, default 0.1) or of intents (embedder, pairs: 0.2).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUT's examples and latest epoch checkpoint.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="DIALIN_CONFIG",
              help="YAML config (the embedder and store used to build examples).")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON on stdout (progress on stderr).")
def finetune_cmd(task: str, data: tuple[str, ...], out: str | None, base: str | None, text_col: str,
                 label_col: str, split: str | None, count: int, n: int, epochs: int | None, rank: int,
                 lr: float | None, batch_size: int | None, holdout: float | None, device: str, seed: int,
                 resume: bool, config_path: str | None, as_json: bool) -> None:
    """Train a LoRA adapter for the judge or namer role, the embedder, or a pair judge, from labelled corpora.

    judge/namer: builds examples like the paper (judge: good = one intent, bad = mixtures,
    intruders, nearest-intent perturbations and impure real clusters; namer: the gold label
    as action-objective), trains with peft on CPU or GPU, and writes OUT/peft (vLLM
    --lora-modules) and OUT/TASK-lora.gguf (llama.cpp --lora_path), plus manifest.json
    with the config that uses it.

    embedder: contrastive fine-tuning of the sentence embedder on the labelled intents
    (same-intent sentences close, others apart); writes OUT/model, validated by K-means NMI
    on intents held out of training (base vs tuned).

    pairs: a cross-encoder that reads two sentences and says whether they share an intent
    (same-intent pairs vs pairs with the nearest and random other intents); writes OUT/model
    and the config that makes it the cascade's scorer, with thresholds chosen on intents
    held out of training.
    """
    from dialin.config import dialin_home
    from dialin.finetune.run import finetune
    from dialin.finetune.train import TrainSettings

    d = DEFAULTS[task if task in DEFAULTS else "lora"]
    epochs = d["epochs"] if epochs is None else epochs
    lr = d["lr"] if lr is None else lr
    batch_size = d["batch_size"] if batch_size is None else batch_size
    holdout = d["holdout"] if holdout is None else holdout
    if epochs < 1:
        raise click.BadParameter("at least 1", param_hint="--epochs")
    if batch_size < 2:
        raise click.BadParameter("at least 2", param_hint="--batch-size")
    if not 0 <= holdout < 0.9:
        raise click.BadParameter("must be in [0, 0.9)", param_hint="--holdout")
    if count < 10:
        raise click.BadParameter("at least 10 examples", param_hint="--examples")
    for path in data:
        if not Path(path).is_file():
            raise click.BadParameter(f"{path} is not a file", param_hint="--data")
    config = load_config(config_path)
    folder = Path(out) if out else dialin_home() / "adapters" / task
    if task in ("embedder", "pairs"):
        ctx = click.get_current_context()
        lora_only = [f"--{p.replace('count', 'examples')}" for p in ("count", "n", "rank")
                     if ctx.get_parameter_source(p) is not click.core.ParameterSource.DEFAULT]
        if lora_only:
            raise click.BadParameter(f"{', '.join(lora_only)} only apply to judge and namer (LoRA) training",
                                     param_hint=lora_only[0])
        if task == "pairs":
            _pairs(data, folder, base or BUNDLED_MINILM, config, holdout, epochs, lr, batch_size, device, seed, resume,
                   label_col, text_col, split, as_json)
            return
        if base is None and config.embedder.kind != "sentence-transformers":
            raise click.BadParameter(f"the config's embedder is '{config.embedder.kind}', which cannot be fine-tuned: "
                                     "pass a sentence-transformers folder", param_hint="--base")
        _embedder(data, folder, base or config.embedder.model, holdout, epochs, lr, batch_size, device, seed, resume,
                  label_col, text_col, split, as_json)
        return
    base = base or str(d["base"])
    settings = TrainSettings(rank=rank, alpha=2.0 * rank, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed,
                             device=device)
    bar = _progress()
    manifest = finetune(task, list(data), folder, config=config, base=base, count=count, n=n, holdout=holdout,  # type: ignore[arg-type]
                        settings=settings, resume=resume, label_col=label_col, text_col=text_col, split=split,
                        progress=bar)
    if as_json:
        click.echo(json.dumps(manifest, indent=2))
        return
    v = manifest["validation"]
    click.echo(f"trained {task} LoRA on {manifest['train']['examples']} examples in "
               f"{manifest['seconds']['total']:.0f} s ({manifest['device']})")
    click.echo(f"validation: {json.dumps({k: v[k] for k in v if k != 'samples'})}")
    click.echo(f"llama.cpp adapter: {manifest['paths']['gguf']}\nvLLM adapter:      {manifest['paths']['peft']}")
    click.echo("use it (add to your config):")
    import yaml

    use = dict(manifest["use"])
    vllm = use.pop("vllm")
    click.echo(yaml.safe_dump(use, sort_keys=False))
    click.echo(f"on vLLM: {vllm}")


def _embedder(data: tuple[str, ...], folder: Path, base: str, holdout: float, epochs: int, lr: float,
              batch_size: int, device: str, seed: int, resume: bool, label_col: str, text_col: str,
              split: str | None, as_json: bool) -> None:
    from dialin.finetune.embedder import EmbedderSettings
    from dialin.finetune.run import finetune_embedder

    settings = EmbedderSettings(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device)
    manifest = finetune_embedder(list(data), folder, base=base, holdout=holdout, settings=settings, resume=resume,
                                 label_col=label_col, text_col=text_col, split=split, progress=_progress())
    if as_json:
        click.echo(json.dumps(manifest, indent=2))
        return
    t, v = manifest["train"], manifest["validation"]
    click.echo(f"trained the embedder on {t['sentences']} sentences of {t['intents']} intents in "
               f"{manifest['seconds']['total']:.0f} s ({manifest['device']})")
    if v.get("nmi_base") is not None:
        click.echo(f"validation, {v['heldout_intents']} intents it never saw: K-means NMI {v['nmi_base']} (base) -> "
                   f"{v['nmi_tuned']} (tuned)")
    click.echo(f"model: {manifest['paths']['model']}\nuse it (add to your config):")
    import yaml

    click.echo(yaml.safe_dump(manifest["use"], sort_keys=False))
    if "path" in manifest["coherence_model"]:
        click.echo(f"optional, a coherence model fitted on the held-out intents: {manifest['coherence_model']['use']}")


def _pairs(data: tuple[str, ...], folder: Path, base: str, config: Any, holdout: float, epochs: int, lr: float,
           batch_size: int, device: str, seed: int, resume: bool, label_col: str, text_col: str,
           split: str | None, as_json: bool) -> None:
    from dialin.finetune.pairs import PairSettings
    from dialin.finetune.run import finetune_pairs

    settings = PairSettings(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device)
    manifest = finetune_pairs(list(data), folder, config=config, base=base, holdout=holdout, settings=settings,
                              resume=resume, label_col=label_col, text_col=text_col, split=split,
                              progress=_progress())
    if as_json:
        click.echo(json.dumps(manifest, indent=2))
        return
    t, v = manifest["train"], manifest["validation"]
    click.echo(f"trained the pair judge on {t['pairs_per_epoch']} pairs x {t['epochs']} epochs from {t['sentences']} "
               f"sentences of {t['intents']} intents in {manifest['seconds']['total']:.0f} s ({manifest['device']})")
    if v:
        click.echo(f"validation, {len(manifest['holdout_intents'])} intents it never saw ({v['clusters']} clusters of "
                   f"{v['n']}): AUC pairs / cohesion " + ", ".join(
                       f"{g} {a['pairs']} / {a['cohesion']}" for g, a in v["auc"].items()))
        c = v["cascade"]
        click.echo(f"cascade thresholds (decided clusters right >= {c['target_precision']:.0%}): low {c['low']}, "
                   f"high {c['high']}; {c['decided']:.0%} of those clusters decided without the LLM")
    click.echo(f"model: {manifest['paths']['model']}\nuse it (add to your config):")
    import yaml

    click.echo(yaml.safe_dump(manifest["use"], sort_keys=False))


def _progress() -> Any:
    state: dict[str, Any] = {"bar": None}

    def tick(e: dict[str, Any]) -> None:
        if state["bar"] is None:
            from tqdm import tqdm

            state["bar"] = tqdm(total=e["steps"], initial=e["step"] - 1, desc="finetune", unit="step",
                                file=sys.stderr)
        state["bar"].set_postfix(loss=f"{e['loss']:.3f}", epoch=e["epoch"])
        state["bar"].update(1)
    return tick


COMMANDS = [finetune_cmd]
