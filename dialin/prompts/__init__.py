"""Prompts are files: ``NAME.md`` here, with ``## system`` and ``## user`` sections.

Variables use ``$name`` (``string.Template``); a missing variable is an error, never
a silent blank. Every call logs the prompt id and the hash of its file text.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from pathlib import Path

from dialin.errors import ConfigError

PROMPT_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Prompt:
    id: str
    hash: str
    system: str
    user: str

    def render(self, **variables: object) -> list[dict[str, str]]:
        """Chat messages with the variables filled in; raises on a missing one."""
        out = []
        for role, text in (("system", self.system), ("user", self.user)):
            if not text:
                continue
            try:
                content = string.Template(text).substitute({k: str(v) for k, v in variables.items()})
            except KeyError as exc:
                raise ConfigError(f"prompt '{self.id}' needs variable {exc}; it was not given") from None
            out.append({"role": role, "content": content})
        return out


def parse_prompt(prompt_id: str, text: str) -> Prompt:
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        head = line.strip().lower()
        if head in ("## system", "## user"):
            current = head[3:]
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    if "user" not in sections:
        raise ConfigError(f"prompt '{prompt_id}' has no '## user' section: add one (see dialin/prompts/judge.md)")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return Prompt(prompt_id, digest, "\n".join(sections.get("system", [])).strip(),
                  "\n".join(sections["user"]).strip())


def load_prompt(id_or_path: str) -> Prompt:
    """A prompt by id (a file in this folder) or by path to a ``.md`` file."""
    path = Path(id_or_path)
    if path.suffix == ".md" and path.is_file():
        return parse_prompt(path.stem, path.read_text(encoding="utf-8"))
    local = PROMPT_DIR / f"{id_or_path}.md"
    if local.is_file():
        return parse_prompt(id_or_path, local.read_text(encoding="utf-8"))
    known = ", ".join(sorted(p.stem for p in PROMPT_DIR.glob("*.md")))
    raise ConfigError(f"prompt '{id_or_path}' not found: use one of {known} or a path to a .md file")
