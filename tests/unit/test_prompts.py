"""Every shipped prompt parses and renders with the variables its agent passes (edit a prompt: run this)."""

from __future__ import annotations

import pytest

from dialin.agents.judge import format_sentences
from dialin.errors import ConfigError
from dialin.prompts import PROMPT_DIR, load_prompt


@pytest.mark.parametrize("prompt_id", sorted(p.stem for p in PROMPT_DIR.glob("*.md")))
def test_each_prompt_parses_with_a_stable_hash(prompt_id: str) -> None:
    assert load_prompt(prompt_id).hash == load_prompt(prompt_id).hash


def test_judge_prompt_renders_the_sentences_and_refuses_a_missing_variable() -> None:
    prompt = load_prompt("judge")
    messages = prompt.render(sentences=format_sentences(["I lost my card", "my card is gone"]))
    assert any("- I lost my card" in m["content"] for m in messages)
    with pytest.raises((ConfigError, KeyError)):
        prompt.render()
