"""``dialin finetune judge|namer``: train a LoRA adapter for a role from labelled corpora."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from dialin.config import load_config

TASKS = ("judge", "namer")


@click.command("finetune")
@click.argument("task", type=click.Choice(TASKS))
@click.option("--data", "data", multiple=True, required=True, type=click.Path(),
              help="Labelled corpus (CSV/TSV/JSONL with text + label); repeat for several.")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: $DIALIN_HOME/adapters/TASK).")
@click.option("--base", default="bundled:qwen2.5-coder-0.5b", show_default=True,
              help="Base model: bundled:NAME, a .gguf file, or a Hugging Face model folder.")
@click.option("--text-col", default="text", show_default=True)
@click.option("--label-col", default="label", show_default=True)
@click.option("--split", default=None, help="Keep rows whose 'split' column equals this (e.g. train).")
@click.option("--examples", "count", type=int, default=400, show_default=True, help="Training examples in all.")
@click.option("--n", "n", type=int, default=10, show_default=True, help="Sentences shown per example.")
@click.option("--epochs", type=int, default=2, show_default=True)
@click.option("--rank", type=int, default=16, show_default=True)
@click.option("--lr", type=float, default=2e-4, show_default=True)
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--holdout", type=float, default=0.1, show_default=True, help="Share of examples kept for validation.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUT's examples and latest epoch checkpoint.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="DIALIN_CONFIG",
              help="YAML config (the embedder and store used to build examples).")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON on stdout (progress on stderr).")
def finetune_cmd(task: str, data: tuple[str, ...], out: str | None, base: str, text_col: str, label_col: str,
                 split: str | None, count: int, n: int, epochs: int, rank: int, lr: float, batch_size: int,
                 holdout: float, device: str, seed: int, resume: bool, config_path: str | None,
                 as_json: bool) -> None:
    """Train a LoRA adapter for the judge or namer role from labelled corpora.

    Builds examples like the paper (judge: good = one intent, bad = mixtures, intruders,
    nearest-intent perturbations and impure real clusters; namer: the gold label as
    action-objective), trains with peft on CPU or GPU, and writes OUT/peft (vLLM
    --lora-modules) and OUT/TASK-lora.gguf (llama.cpp --lora_path), plus manifest.json
    with the config that uses it.
    """
    from dialin.config import dialin_home
    from dialin.finetune.run import finetune
    from dialin.finetune.train import TrainSettings

    if not 0 <= holdout < 0.9:
        raise click.BadParameter("must be in [0, 0.9)", param_hint="--holdout")
    if count < 10:
        raise click.BadParameter("at least 10 examples", param_hint="--examples")
    for path in data:
        if not Path(path).is_file():
            raise click.BadParameter(f"{path} is not a file", param_hint="--data")
    config = load_config(config_path)
    folder = Path(out) if out else dialin_home() / "adapters" / task
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
