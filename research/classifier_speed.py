"""How fast the default intent classifier trains and classifies (issue 19 targets: <= 1 min, 10,000 in <= 30 s).

Prints numbers, asserts nothing: the machine may be shared, so every step prints its wall seconds,
this process's CPU seconds (all threads) and the 1-minute load average at its start and end. Trains on
BANKING77 train (all 10,003 utterances by default, or --train-n drawn with seed 0; 77 gold intents);
their vectors are embedded once and kept in the store in $DIALIN_HOME, as a run's are, so the
one-time embedding is its own step and the fit starts from vectors. Classifies --n distinct HWU64
utterances (all splits, file order, exact duplicates dropped: other texts, never cached, so embedding
is part of classifying), with all-MiniLM-L6-v2 on CPU and torch limited to --threads.

    PYTHONPATH=$PWD .venv/bin/python research/classifier_speed.py --threads 2 [--n 10000] [--train-n N]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def distinct_texts(path: Path, n: int) -> list[str]:
    """The first ``n`` distinct texts of a JSONL file, in file order (all splits)."""
    seen: dict[str, None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            seen.setdefault(json.loads(line)["text"], None)
    out = list(seen)[:n]
    if len(out) < n:
        raise SystemExit(f"{path} has only {len(out)} distinct texts (asked for {n})")
    return out


def step(name: str, fn: Callable[[], Any], log: list[dict]) -> Any:
    """Run ``fn`` and record its wall s, CPU s (this process) and the load average before and after."""
    load0, t, cpu = os.getloadavg()[0], time.perf_counter(), time.process_time()
    out = fn()
    log.append({"step": name, "wall_s": round(time.perf_counter() - t, 2),
                "cpu_s": round(time.process_time() - cpu, 2),
                "load_start": round(load0, 2), "load_end": round(os.getloadavg()[0], 2)})
    print(json.dumps(log[-1]), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=10_000, help="distinct HWU64 utterances to classify")
    ap.add_argument("--train-n", type=int, default=None,
                    help="train on N random train utterances (seed 0: the rows `dialin bench --sample N` draws)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    from dialin.classify.classifier import IntentClassifier
    from dialin.classify.downstream import sample
    from dialin.config import EmbedderConfig, load_config
    from dialin.data import load_corpus
    from dialin.embed import CachedEmbedder
    from dialin.store import Store

    train = sample(load_corpus(DATA / "banking77" / "banking77.jsonl", label_col="label", split="train"),
                   args.train_n, 0)
    assert train.labels is not None
    new = distinct_texts(DATA / "hwu64" / "hwu64.jsonl", args.n)
    clf = IntentClassifier(embedder=EmbedderConfig(cache=False, progress=False))
    log: list[dict] = []
    emb = step("model load + warm-up", lambda: (clf._embedder(), clf._embedder().encode(["warm up"]))[0], log)
    store = Store(load_config().store_path())
    X = step(f"embed train once ({len(train)} utterances; store cache)",
             lambda: CachedEmbedder(emb, store).encode(train.texts), log)
    step(f"fit on vectors ({len(train)} utterances; 2 fits + temperature)",
         lambda: clf.fit_vectors(X, train.labels), log)
    preds = step(f"classify {len(new)} distinct new utterances (embed + predict)", lambda: clf.classify(new), log)
    step(f"LR prediction alone, {len(X)} vectors", lambda: clf.predict_proba_vectors(X), log)
    print(json.dumps({"threads": args.threads, "cores": os.cpu_count(), "train_utterances": len(train),
                      "intents": len(clf.classes_), "holdout_accuracy": clf.holdout_["accuracy"],
                      "classified": len(preds), "distinct": len(set(new)),
                      "unknown": sum(p.intent == "unknown" for p in preds), "steps": log}, indent=2))


if __name__ == "__main__":
    main()
