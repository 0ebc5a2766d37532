"""Checks that turn a bad input file or flag into a ``DataError`` naming the problem and the fix.

``dialin.data`` reads a corpus; these functions guard each step: the ``--limit`` and
``--encoding`` flags, decoding (UTF-16 byte-order marks are honoured, binary files are
refused), CSV parsing (ragged rows, huge fields), JSONL values of the wrong type, and
speaker-role values that are neither customer nor agent.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from pathlib import Path
from typing import Any

from dialin.errors import DataError

FIELD_LIMIT = 2**31 - 1
"""Most characters in one CSV field (Python's default, 131,072, refuses long utterances)."""
KNOWN_ROLES = ("customer", "agent")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise DataError(f"--limit {limit} is not a row count: pass a number of rows of at least 1, "
                        "or omit --limit to use every row")


def check_encoding(encoding: str) -> str:
    """The codec's canonical name; ``DataError`` for a name Python does not know."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise DataError(f"unknown encoding '{encoding}': pass a codec name such as utf-8, utf-16, cp1252 or "
                        "latin-1 (`file -i FILE` tells a file's encoding)") from None


def decode(raw: bytes, encoding: str, path: Path) -> str:
    """The file's text: a UTF-16/32 byte-order mark wins over ``encoding``; NUL bytes mean not text."""
    codec = check_encoding(encoding)
    if not codec.startswith(("utf-16", "utf-32")):
        for bom, name in _BOMS:
            if raw.startswith(bom):
                codec = name
                break
    try:
        text = raw.decode(codec).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        hint = ("it has NUL bytes, so it may be UTF-16 without a byte-order mark: pass --encoding utf-16"
                if b"\x00" in raw[:4096] else
                "re-save it as UTF-8 or pass --encoding with its real encoding (cp1252 or latin-1 are common "
                "for Western European text; `file -i FILE` tells it)")
        raise DataError(f"{path} is not valid {encoding}: undecodable byte 0x{raw[exc.start]:02x} at line {line} "
                        f"(byte {exc.start}): {hint}") from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise DataError(f"{path} holds NUL bytes (first at line {line}) read as {encoding}: it is a binary file, not "
                        "CSV/TSV/JSONL/TXT text. Export the data as text; if the file is UTF-16 without a "
                        "byte-order mark, pass --encoding utf-16")
    return text


def read_delimited(text: str, delimiter: str, path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of a CSV/TSV as dicts; every row must have as many fields as the header."""
    csv.field_size_limit(FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    name = "tab" if delimiter == "\t" else f"'{delimiter}'"
    header: list[str] | None = None
    rows: list[dict[str, Any]] = []
    ragged: list[tuple[int, int]] = []
    try:
        for fields in reader:
            if not fields:
                continue
            if header is None:
                header = fields
                continue
            if len(fields) > len(header) and not any(f.strip() for f in fields[len(header):]):
                fields = fields[:len(header)]  # trailing empty fields (a spreadsheet's trailing delimiters)
            if len(fields) != len(header):
                ragged.append((reader.line_num, len(fields)))
                continue
            rows.append(dict(zip(header, fields)))
    except csv.Error as exc:
        raise DataError(f"{path} line {reader.line_num} cannot be read as {'TSV' if delimiter == chr(9) else 'CSV'} "
                        f"({exc}): check the quoting on that line, or pass --format for another format") from None
    if ragged:
        shown = ", ".join(f"line {n} has {k}" for n, k in ragged[:5]) + (", ..." if len(ragged) > 5 else "")
        raise DataError(f"{path}: {len(ragged)} row(s) do not have the header's {len(header or [])} fields "
                        f"({shown}). A field that holds the delimiter {name} must be quoted, e.g. "
                        '"hello, I lost my card"; or save the data as TSV or JSONL')
    return rows, list(header or [])


def check_json_values(rows: list[dict[str, Any]], column: str, path: Path, *, text: bool) -> None:
    """JSONL: a text must be a string (or null: blank); other columns a string, number or null."""
    allowed: tuple[type, ...] = (str,) if text else (str, int, float)
    for n, row in enumerate(rows, start=1):
        value = row.get(column)
        if value is None or (isinstance(value, allowed) and not isinstance(value, bool)):
            continue
        kind = {dict: "an object", list: "a list", bool: "a boolean"}.get(type(value), f"a {type(value).__name__}")
        raise DataError(f"{path} record {n}: '{column}' is {kind} ({str(value)[:40]}), not "
                        f"{'a string' if text else 'a string or number'}: write it as a JSON string "
                        f'(e.g. "{column}": "...")')


def check_roles(values: list[str], normalized: list[str], where: str) -> None:
    """Every role must be customer or agent after the aliases; otherwise name the values and the fix."""
    bad = Counter(raw for raw, role in zip(values, normalized) if role not in KNOWN_ROLES)
    if not bad:
        return
    shown = ", ".join(f"{v or '(blank)'!s} ({n} rows)" for v, n in bad.most_common(6))
    raise DataError(f"{where} has values that are neither customer nor agent: {shown}. Map them to customer "
                    "(user, client, caller) or agent (assistant, operator, bot, staff), drop those rows, or give "
                    "no roles")
