"""How each backend is asked: the one table of backend differences.

A backend is an OpenAI-compatible server. They differ in how a call is constrained (a
fixed set of answers, a regex-shaped free text, a JSON schema) and in whether the model
name matters. ``build_request`` (``dialin.llm.router``), ``dialin doctor`` and the
evaluator's identity read this table; adding a backend is one entry here (the config's
``endpoints.*.backend`` accepts every key of ``BACKENDS``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel


BackendName = Literal["llamacpp", "vllm", "openai"]
"""The config's ``endpoints.*.backend``: every name has an entry in ``BACKENDS``."""


def choice_grammar(choices: list[str]) -> str:
    """A GBNF grammar that admits exactly one of ``choices``."""
    return "root ::= " + " | ".join(json.dumps(c) for c in choices)


def _json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema()}}


@dataclass(frozen=True)
class Backend:
    name: str
    one_model: bool
    """Answers any model name with the one model it loaded (so a missing model name is no error)."""
    choice: Callable[[list[str]], dict[str, Any]] | None
    """extra_body entries that restrict the answer to one of the choices (None: unconstrained)."""
    pattern: Callable[[str, str], dict[str, Any]] | None
    """extra_body entries for free text of a fixed shape, from (regex, GBNF grammar)."""
    schema: Callable[[type[BaseModel]], dict[str, Any]]
    """The ``response_format`` that asks for JSON of this pydantic model."""


BACKENDS: dict[str, Backend] = {
    "llamacpp": Backend(
        "llamacpp", one_model=True,
        choice=lambda choices: {"grammar": choice_grammar(choices)},
        pattern=lambda regex, grammar: {"grammar": grammar},
        schema=lambda schema: {"type": "json_object", "schema": schema.model_json_schema()}),
    "vllm": Backend(
        "vllm", one_model=False,
        choice=lambda choices: {"structured_outputs": {"choice": list(choices)}},
        pattern=lambda regex, grammar: {"structured_outputs": {"regex": regex}},
        schema=_json_schema),
    "openai": Backend("openai", one_model=False, choice=None, pattern=None, schema=_json_schema),
}


def backend(name: str) -> Backend:
    return BACKENDS[name]


assert set(BACKENDS) == set(get_args(BackendName)), "every backend name needs a BACKENDS entry"
