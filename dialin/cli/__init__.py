"""The `dialin` command line: one click group, every command added explicitly.

Command families live one per module (``core``: run/runs/export/config/serve/doctor; ``measure``:
eval/judge-eval/bench/cost; ``inspect``: chat/report; ``finetune``). A new command is a
``@click.command`` in its family's module, listed in that module's ``COMMANDS``.
``--json`` output is machine-readable (stdout only).
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any

import click

from dialin.cli import classifier, core, finetune, inspect, measure
from dialin.errors import DialinError
from dialin.guard.store_file import is_damage


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DialinError as exc:
            click.echo(f"error: {exc}", err=True)
            _echo_notes(exc)
            sys.exit(2)
        except KeyboardInterrupt as exc:
            click.echo("interrupted", err=True)
            _echo_notes(exc)
            sys.exit(130)
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            click.echo(f"error: a SQLite file dialin uses is damaged ({exc}): the store (`dialin config show` names "
                       "it under store:, default $DIALIN_HOME/dialin.db) or the .checkpoints.db beside it. Move the "
                       "damaged file aside (mv FILE FILE.damaged) and run again.", err=True)
            _echo_notes(exc)
            sys.exit(2)


def _echo_notes(exc: BaseException) -> None:
    for note in getattr(exc, "__notes__", None) or []:
        click.echo(note, err=True)


@click.group(cls=_Group)
@click.version_option(package_name="dialin")
def main() -> None:
    """dialin: LLM-in-the-loop intent discovery."""


for _family in (core, measure, inspect, finetune, classifier):
    for _command in _family.COMMANDS:
        main.add_command(_command)
