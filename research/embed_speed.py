"""Faster paths to the same MiniLM vectors, side by side in one process (issue 19: classify 10,000 in <= 30 s).

Each candidate embeds the same --n distinct HWU64 utterances (all splits, file order, exact duplicates
dropped). Printed per candidate: wall s, this process's CPU s, the 1-minute load average before and
after, the largest absolute difference from the reference vectors (the first candidate: the current
sentence-transformers path, batch 64), and how many of a saved classifier's predictions (--classifier
DIR, e.g. from `dialin classifier train RUN`) are the same as with the reference vectors. --nmi also
clusters BANKING77 small (K-means told K = 77, seeds 0-2) on the reference and on the ONNX vectors.
Ratios count, not seconds: the machine may be shared.

    PYTHONPATH=$PWD python research/embed_speed.py --classifier DIR [--n 10000] [--nmi]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from research.classifier_speed import DATA, distinct_texts  # type: ignore[import-not-found]


def timed(name: str, fn, ref: np.ndarray | None, clf, log: list[dict]) -> np.ndarray:  # noqa: ANN001
    load0, t, cpu = os.getloadavg()[0], time.perf_counter(), time.process_time()
    X = np.asarray(fn(), dtype=np.float32)
    row = {"candidate": name, "wall_s": round(time.perf_counter() - t, 2), "cpu_s": round(time.process_time() - cpu, 2),
           "load_start": round(load0, 2), "load_end": round(os.getloadavg()[0], 2)}
    if ref is not None:
        row["max_abs_diff"] = float(np.abs(X - ref).max())
        row["wall_ratio_to_ref"] = round(row["wall_s"] / log[0]["wall_s"], 3)
        if clf is not None:
            a, b = clf.predict_proba_vectors(ref), clf.predict_proba_vectors(X)
            row["same_best_intent"] = int((a.argmax(1) == b.argmax(1)).sum())
            thr = clf.threshold_
            same_best = a.argmax(1) == b.argmax(1)
            row["same_intent_or_unknown"] = int((same_best & ((a.max(1) >= thr) == (b.max(1) >= thr))).sum())
            row["max_confidence_diff"] = float(np.abs(a.max(1) - b.max(1)).max())
    log.append(row)
    print(json.dumps(row), flush=True)
    return X


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--classifier", default=None, help="saved classifier folder for the agreement columns")
    ap.add_argument("--quick", action="store_true", help="only the reference and the new default")
    ap.add_argument("--nmi", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from dialin.classify.classifier import IntentClassifier
    from dialin.embed import SentenceTransformerEmbedder, load_sentence_transformer

    texts = distinct_texts(DATA / "hwu64" / "hwu64.jsonl", args.n)
    clf = IntentClassifier.load(args.classifier) if args.classifier else None
    st = load_sentence_transformer("bundled:all-MiniLM-L6-v2")
    onnx = SentenceTransformerEmbedder(backend="onnx", progress=False)
    t = time.perf_counter()
    onnx.encode(["warm up"])
    print(json.dumps({"onnx load (export if not cached) + warm-up s": round(time.perf_counter() - t, 2),
                      "torch_threads": torch.get_num_threads()}), flush=True)
    st.encode(["warm up"])

    def st_enc(bs: int):  # noqa: ANN202
        return lambda: st.encode(texts, batch_size=bs, show_progress_bar=False, normalize_embeddings=True)

    log: list[dict] = []
    ref = timed("sentence-transformers, batch 64 (current default)", st_enc(64), None, clf, log)
    timed("onnxruntime, batch 64 (new default)", lambda: onnx.encode(texts), ref, clf, log)
    if not args.quick:
        for bs in (32, 128, 256):
            timed(f"sentence-transformers, batch {bs}", st_enc(bs), ref, clf, log)
        with torch.inference_mode():
            timed("sentence-transformers, batch 64, inside torch.inference_mode", st_enc(64), ref, clf, log)
        n = torch.get_num_threads()
        torch.set_num_threads(1)
        timed("sentence-transformers, batch 64, torch 1 thread", st_enc(64), ref, clf, log)
        torch.set_num_threads(n)
        for bs in (16, 32, 128, 256):
            onnx.batch_size = bs
            timed(f"onnxruntime, batch {bs}", lambda: onnx.encode(texts), ref, clf, log)
        onnx.batch_size = 64
        from dialin.tools.onnx_encoder import OnnxEncoder

        quiet = OnnxEncoder(st, next((Path(os.environ["DIALIN_HOME"]) / "models" / "onnx").glob("*.onnx")),
                            spinning=False)
        timed("onnxruntime, batch 64, threads do not spin", lambda: quiet.encode(texts), ref, clf, log)
        timed("sentence-transformers, batch 64 (current default), again", st_enc(64), ref, clf, log)
        timed("onnxruntime, batch 64 (new default), again", lambda: onnx.encode(texts), ref, clf, log)
    if args.nmi:
        from sklearn.cluster import KMeans
        from sklearn.metrics import normalized_mutual_info_score as nmi

        from dialin.data import load_corpus

        small = load_corpus(DATA / "banking77" / "banking77_small.jsonl", label_col="label")
        A = st.encode(small.texts, batch_size=64, show_progress_bar=False, normalize_embeddings=True)
        B = onnx.encode(small.texts)
        for seed in range(3):
            la = KMeans(77, random_state=seed, n_init=1).fit_predict(A)
            lb = KMeans(77, random_state=seed, n_init=1).fit_predict(B)
            print(json.dumps({"banking77_small_seed": seed, "nmi_torch": round(100 * nmi(small.labels, la), 2),
                              "nmi_onnx": round(100 * nmi(small.labels, lb), 2),
                              "same_labels": bool((la == lb).all()), "max_abs_diff": float(np.abs(A - B).max())}),
                  flush=True)


if __name__ == "__main__":
    main()
