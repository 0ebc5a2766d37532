"""How fast the default intent classifier trains and classifies (issue 19 targets: <= 1 min, 10,000 in <= 30 s).

Prints numbers, asserts nothing: the machine may be shared (the load average is printed). Trains
on BANKING77 train (the first --train-n of 10,003 utterances, 77 gold intents; their vectors come
from the store in $DIALIN_HOME when cached, as they are for a run's utterances) and classifies --n
HWU64 train+valid utterances (other texts, never cached: embedding is part of classifying), with
all-MiniLM-L6-v2 on CPU and torch limited to --threads.

    PYTHONPATH=$PWD .venv/bin/python research/classifier_speed.py --threads 2 [--n 10000] [--train-n 10003]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def rows(path: Path, splits: set[str]) -> list[dict]:
    out = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [r for r in out if r.get("split") in splits]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=10_000, help="utterances to classify")
    ap.add_argument("--train-n", type=int, default=None,
                    help="train on N random train utterances (seed 0: the rows `dialin bench --sample N` draws)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    from dialin.classify.classifier import IntentClassifier
    from dialin.config import EmbedderConfig, load_config
    from dialin.data import load_corpus
    from dialin.classify.downstream import sample
    from dialin.embed import CachedEmbedder
    from dialin.store import Store

    train = sample(load_corpus(DATA / "banking77" / "banking77.jsonl", label_col="label", split="train"),
                   args.train_n, 0)
    assert train.labels is not None
    new = [r["text"] for r in rows(DATA / "hwu64" / "hwu64.jsonl", {"train", "valid"})][: args.n]
    clf = IntentClassifier(embedder=EmbedderConfig(cache=False, progress=False))
    emb = clf._embedder()
    t = time.perf_counter()
    emb.encode(["warm up the model"])
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    X = CachedEmbedder(emb, Store(load_config().store_path())).encode(train.texts)
    embed_train_s = time.perf_counter() - t
    clf.fit_vectors(X, train.labels)
    t, cpu = time.perf_counter(), time.process_time()
    preds = clf.classify(new)
    classify_s, classify_cpu_s = time.perf_counter() - t, time.process_time() - cpu
    t = time.perf_counter()
    V = clf.embed(new[:1000])
    per_1000 = time.perf_counter() - t
    t = time.perf_counter()
    clf.predict_proba_vectors(V)
    predict_s = time.perf_counter() - t
    print(json.dumps({
        "threads": args.threads, "load_average": os.getloadavg(), "model_load_s": round(load_s, 2),
        "train_utterances": len(train), "intents": len(clf.classes_),
        "embed_train_s (store cache used)": round(embed_train_s, 2),
        "fit_s (2 fits: held-out + full, temperature)": clf.train_s_, "fit_cpu_s": clf.train_cpu_s_,
        "classified": len(preds), "classify_s (embed + predict)": round(classify_s, 2),
        "classify_cpu_s (all threads)": round(classify_cpu_s, 2),
        "classify_1000_again_s": round(per_1000, 2),
        "predict_only_s (the LR on the vectors)": round(predict_s, 4),
        "unknown": sum(p.intent == "unknown" for p in preds)},
        indent=2))


if __name__ == "__main__":
    main()
