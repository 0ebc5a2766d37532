"""Options and output helpers every command family shares (one definition each)."""

from __future__ import annotations

import json
from typing import Any

import click

CONFIG_HELP = "YAML config (default: built-in local setup; env DIALIN_CONFIG)."


def config_option(help: str = CONFIG_HELP) -> Any:  # noqa: A002 - click's own name
    """``--config PATH`` (env ``DIALIN_CONFIG``), passed to the command as ``config_path``."""
    return click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="DIALIN_CONFIG", help=help)


config_opt = config_option()
json_opt = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout (progress on stderr).")


def emit_json(obj: Any) -> None:
    """One JSON document on stdout (the ``--json`` contract)."""
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))
