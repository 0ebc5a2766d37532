"""Loading a corpus: CSV, TSV, JSONL (or plain text, one utterance a line).

Unique sentences are clustered; every input row keeps its mapping to them
(``row_to_unique``), so the output assigns an intent to every row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialin.guard.inputs import check_json_values, check_limit, check_roles, decode, read_delimited
from dialin.errors import DataError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "txt"}
ROLE_ALIASES = {"user": "customer", "client": "customer", "caller": "customer", "customer": "customer",
                "agent": "agent", "assistant": "agent", "operator": "agent", "bot": "agent", "staff": "agent"}


@dataclass
class Corpus:
    """Rows of a corpus and the unique sentences that are clustered."""

    texts: list[str]
    source: str = "<memory>"
    labels: list[str] | None = None
    roles: list[str] | None = None
    dialogue_ids: list[str] | None = None
    blank_rows: list[int] = field(default_factory=list)
    unique_texts: list[str] = field(default_factory=list)
    row_to_unique: list[int] = field(default_factory=list)
    unique_roles: list[str] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    """The ``load_corpus`` options it was read with (a run's resume command repeats them)."""

    def __post_init__(self) -> None:
        if not self.unique_texts:
            self._dedupe()

    def _dedupe(self) -> None:
        """Unique (role, text) pairs: the same words said by customer and agent stay apart."""
        index: dict[tuple[str, str], int] = {}
        roles: list[str] = []
        self.row_to_unique = []
        blank = set(self.blank_rows)
        for i, text in enumerate(self.texts):
            if i in blank:
                self.row_to_unique.append(-1)
                continue
            role = self.roles[i] if self.roles else ""
            key = (role, text)
            if key not in index:
                index[key] = len(self.unique_texts)
                self.unique_texts.append(text)
                roles.append(role)
            self.row_to_unique.append(index[key])
        self.unique_roles = roles if self.roles else None

    def __len__(self) -> int:
        return len(self.texts)


def _detect(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in set(FORMATS.values()):
            raise DataError(f"unknown format '{fmt}': use one of csv, tsv, jsonl, txt")
        return fmt
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"cannot tell the format of {path} from its extension '{suffix}': "
                        "name it .csv, .tsv, .jsonl or .txt, or pass --format")
    return FORMATS[suffix]


def _read_text(path: Path, encoding: str) -> str:
    if not path.exists():
        raise DataError(f"input file not found: {path}. Check the path (relative paths start from "
                        f"{Path.cwd()}).")
    if path.is_dir():
        raise DataError(f"{path} is a folder: pass a .csv, .tsv, .jsonl or .txt file")
    return decode(path.read_bytes(), encoding, path)


def _rows(path: Path, fmt: str, encoding: str) -> tuple[list[dict[str, Any]], list[str]]:
    text = _read_text(path, encoding)
    if not text.strip():
        raise DataError(f"{path} is empty: it needs at least one utterance")
    if fmt == "txt":
        return [{"text": line} for line in text.splitlines()], ["text"]
    if fmt == "jsonl":
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path} line {n} is not valid JSON ({exc.msg}): each line must be one "
                                "JSON object") from None
            if not isinstance(obj, dict):
                raise DataError(f"{path} line {n} is a JSON {type(obj).__name__}, not an object: each line must "
                                'be like {"text": "..."}')
            rows.append(obj)
        columns = list(dict.fromkeys(k for r in rows[:100] for k in r))
        return rows, columns
    return read_delimited(text, "\t" if fmt == "tsv" else ",", path)


def _column(rows: list[dict[str, Any]], columns: list[str], name: str, flag: str, path: Path,
            required: bool = True) -> list[str] | None:
    if name not in columns:
        if not required:
            return None
        raise DataError(f"{path} has no column '{name}' (columns: {', '.join(columns) or 'none'}): "
                        f"pass {flag} with one of them")
    out = []
    for n, row in enumerate(rows, start=1):
        value = row.get(name)
        out.append("" if value is None else str(value).strip())
    return out


def load_corpus(path: str | Path, *, text_col: str = "text", label_col: str | None = None,
                role_col: str | None = None, dialogue_col: str | None = None, fmt: str | None = None,
                encoding: str = "utf-8", split: str | None = None, split_col: str = "split",
                limit: int | None = None, skip_blank: bool = False) -> Corpus:
    """Read a corpus file; every problem raises ``DataError`` naming the problem and the fix."""
    p = Path(path)
    check_limit(limit)
    kind = _detect(p, fmt)
    rows, columns = _rows(p, kind, encoding)
    if split is not None:
        if split_col not in columns:
            raise DataError(f"--split {split} needs a '{split_col}' column; {p} has: {', '.join(columns)}")
        rows = [r for r in rows if str(r.get(split_col)) == split]
        if not rows:
            raise DataError(f"{p} has no rows with {split_col} = '{split}'")
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        raise DataError(f"{p} has a header but no rows: it needs at least one utterance")
    if kind == "jsonl":
        for col in (c for c in (text_col, label_col, role_col, dialogue_col) if c):
            check_json_values(rows, col, p, text=col == text_col)
    texts = _column(rows, columns, text_col, "--text-col", p)
    assert texts is not None
    blank = [i for i, t in enumerate(texts) if not t]
    if blank and not skip_blank:
        shown = ", ".join(str(i + 1) for i in blank[:5])
        raise DataError(f"{p} has {len(blank)} blank value(s) in '{text_col}' (rows {shown}"
                        f"{', ...' if len(blank) > 5 else ''}): remove them or pass --skip-blank "
                        "(they are kept in the output as unassigned)")
    if len(blank) == len(texts):
        raise DataError(f"{p}: every '{text_col}' value is blank: check --text-col")
    labels = _column(rows, columns, label_col, "--label-col", p) if label_col else None
    if labels is not None and not any(label for label, u in zip(labels, texts) if u):
        raise DataError(f"{p}: every '{label_col}' value is blank: check --label-col, or omit it (it is only "
                        "used to score the result)")
    roles = None
    if role_col:
        raw_roles = _column(rows, columns, role_col, "--role-col", p)
        assert raw_roles is not None
        roles = [ROLE_ALIASES.get(r.lower(), r.lower() or "unknown") for r in raw_roles]
        skip = set(blank)  # a blank row's role is never used
        kept = [i for i in range(len(roles)) if i not in skip]
        check_roles([raw_roles[i] for i in kept], [roles[i] for i in kept], f"{p}: --role-col '{role_col}'")
    dialogues = _column(rows, columns, dialogue_col, "--dialogue-col", p) if dialogue_col else None
    options = {"text_col": text_col, "label_col": label_col, "role_col": role_col, "dialogue_col": dialogue_col,
               "fmt": fmt, "encoding": encoding, "split": split, "limit": limit, "skip_blank": skip_blank}
    return Corpus(texts=texts, source=str(p), labels=labels, roles=roles, dialogue_ids=dialogues, blank_rows=blank,
                  options=options)


def corpus_from_texts(texts: list[str], roles: list[str] | None = None, labels: list[str] | None = None) -> Corpus:
    """A corpus from Python lists (the ``IntentDiscovery.fit`` path)."""
    if not texts:
        raise DataError("no texts given: fit() needs at least one utterance")
    if roles is not None and len(roles) != len(texts):
        raise DataError(f"roles has {len(roles)} entries for {len(texts)} texts: give one role per text")
    clean = [str(t).strip() for t in texts]
    blank = [i for i, t in enumerate(clean) if not t]
    if len(blank) == len(clean):
        raise DataError("every text is blank")
    norm_roles = [ROLE_ALIASES.get(str(r).lower(), str(r).lower()) for r in roles] if roles else None
    if roles and norm_roles:
        check_roles([str(r) for r in roles], norm_roles, "roles")
    return Corpus(texts=clean, labels=labels, roles=norm_roles, blank_rows=blank)
