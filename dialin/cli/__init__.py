"""The `dialin` command line: one click group, every command added explicitly.

Command families live one per module (``core``: run/runs/export/config/serve/doctor; ``measure``:
eval/judge-eval/bench/cost; ``inspect``: chat/report; ``finetune``). A new command is a
``@click.command`` in its family's module, listed in that module's ``COMMANDS``.
``--json`` output is machine-readable (stdout only).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from dialin.cli import core, finetune, inspect, measure
from dialin.errors import DialinError


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DialinError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="dialin")
def main() -> None:
    """dialin: LLM-in-the-loop intent discovery."""


for _family in (core, measure, inspect, finetune):
    for _command in _family.COMMANDS:
        main.add_command(_command)
