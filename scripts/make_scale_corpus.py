"""Build the scale corpus: BANKING77 + HWU64 plus label-preserving variants, at several sizes.

    python scripts/make_scale_corpus.py --out /tmp/scale [--data ../shared/data] [--sizes 5000,10000,20000,55000]

The real rows (BANKING77 all splits, 13,083 + HWU64 all splits, 11,106 = 24,189 sentences,
141 intents; labels prefixed ``banking77/`` and ``hwu64/``) come first, shuffled by the seed;
after them come variants of real rows (a greeting in front, a sign-off behind, a typo or two,
a changed case), each keeping its source row's gold label, until the largest size is reached.
``scale-N.jsonl`` is the first N rows of that order, so sizes up to 24,189 hold real rows only,
and every size is a prefix of the next. Same seed, same files. Each row:
``{"text", "label", "source", "variant", "of"}`` (``of``: the real row's text for a variant).

The data stays where it is (read by path) and the output goes to ``--out``, which must lie
outside this repository.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

SOURCES = (("banking77", "banking77/banking77.jsonl"), ("hwu64", "hwu64/hwu64.jsonl"))
GREETINGS = ("hi", "hello", "hey", "hi there", "hello there", "good morning", "good afternoon",
             "good evening", "hey there", "greetings")
SIGN_OFFS = ("thanks", "thank you", "thanks a lot", "many thanks", "cheers", "thank you!", "please help",
             "thanks in advance", "appreciate it", "ty")
REPO = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = (5000, 10000, 20000, 55000)


def read_real(data_dir: Path) -> list[dict[str, str]]:
    """The real rows of both data sets, labels prefixed by their data set; empty texts dropped."""
    rows = []
    for name, rel in SOURCES:
        path = data_dir / rel
        if not path.is_file():
            raise SystemExit(f"error: {path} is missing: pass --data pointing at the shared data folder "
                             "(it holds banking77/ and hwu64/)")
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    obj = json.loads(line)
                    text = str(obj.get("text") or "").strip()
                    if text:
                        rows.append({"text": text, "label": f"{name}/{obj['label']}", "source": name,
                                     "variant": "", "of": ""})
    return rows


def typo(text: str, rng: random.Random) -> str:
    """One keyboard slip in a word of 4+ letters: swap, drop or double a letter."""
    words = text.split(" ")
    spots = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not spots:
        return text
    i = rng.choice(spots)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap":
        w = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    elif kind == "drop":
        w = w[:j] + w[j + 1:]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def recase(text: str, rng: random.Random) -> str:
    return rng.choice((str.lower, str.upper, str.capitalize, str.title))(text)


def variant(text: str, rng: random.Random) -> tuple[str, str]:
    """A label-preserving rewrite of one sentence and the names of the edits made."""
    edits = [e for e in ("greeting", "sign-off", "typo", "case") if rng.random() < 0.5] or \
        [rng.choice(("greeting", "sign-off", "typo", "case"))]
    out = text
    if "typo" in edits:
        for _ in range(rng.choice((1, 1, 2))):
            out = typo(out, rng)
    if "greeting" in edits:
        out = f"{rng.choice(GREETINGS)}{rng.choice((',', '!', '', '.'))} {out[:1].lower()}{out[1:]}"
    if "sign-off" in edits:
        out = f"{out.rstrip()}{rng.choice((' ', ', ', '. '))}{rng.choice(SIGN_OFFS)}"
    if "case" in edits:
        out = recase(out, rng)
    return out, "+".join(edits)


def build(real: list[dict[str, str]], total: int, seed: int) -> list[dict[str, str]]:
    """Real rows shuffled, then distinct variants of them (round robin over a shuffled order)."""
    rng = random.Random(seed)
    rows = list(real)
    rng.shuffle(rows)
    if total <= len(rows):
        return rows[:total]
    seen = {r["text"] for r in rows}
    order = list(rows)
    out = list(rows)
    tries = 0
    while len(out) < total:
        base = order[tries % len(order)]
        tries += 1
        if tries > 50 * total:
            raise SystemExit(f"error: could not make {total} distinct rows from {len(real)} real ones")
        text, edits = variant(base["text"], rng)
        if text in seen:
            continue
        seen.add(text)
        out.append({"text": text, "label": base["label"], "source": base["source"], "variant": edits,
                    "of": base["text"]})
    return out


def _inside_repo(path: Path) -> bool:
    try:
        path.resolve().relative_to(REPO)
        return (REPO / ".git").exists()
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="Folder for scale-N.jsonl (outside the repository).")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"),
                    help="Folder holding banking77/banking77.jsonl and hwu64/hwu64.jsonl.")
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="Comma-separated row counts.")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        print(f"error: --sizes must be comma-separated whole numbers, got {args.sizes!r}", file=sys.stderr)
        return 2
    if not sizes or sizes[0] < 1:
        print("error: --sizes needs at least one positive size", file=sys.stderr)
        return 2
    out_dir = Path(args.out)
    if _inside_repo(out_dir):
        print(f"error: --out {out_dir} is inside the repository; data never goes into the repo: pick a folder "
              "outside it (e.g. /tmp/scale)", file=sys.stderr)
        return 2
    rows = build(read_real(Path(args.data)), sizes[-1], args.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    for n in sizes:
        path = out_dir / f"scale-{n}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for r in rows[:n]:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        part = rows[:n]
        print(f"{path}: {len(part)} rows, {len({r['label'] for r in part})} intents, "
              f"{sum(1 for r in part if r['variant'])} variants")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
