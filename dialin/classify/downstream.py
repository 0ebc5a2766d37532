"""The downstream measure (``dialin bench DATA --split train --downstream test``): clusters as training labels.

The Dial-In paper's section 5.4: discover intents on a train split, train the same classifier
(``dialin.classify.classifier``, logistic regression on the same embeddings) on each method's clusters,
classify the test split and score against gold with a one-to-one (Hungarian) mapping of
predicted intents to gold labels, so splitting an intent in pieces is not rewarded (the
majority mapping, which is, is shown beside it). Rows: dialin (the loop as ``dialin bench``
runs it), K-means told the true K, BERTopic (when installed) and the gold labels (the ceiling).

``--unknown-share S`` adds the unknown-detection measure: the intents of a seeded share S of
gold labels are removed from the train split before discovery; on the test split, AUROC of
``1 - confidence`` for utterances of those held-out intents against the rest, and the share
of each group the classifier's own threshold calls ``unknown``.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any, Callable

import numpy as np

from dialin.config import Config
from dialin.data import Corpus
from dialin.errors import DialinError
from dialin.measure.metrics import acc, contingency, encode, nmi, roc_auc
from dialin.measure.peers import INSTALL, bertopic_labels

PEERS: dict[str, str] = {
    "bertopic": "BERTopic defaults (UMAP 5-d, HDBSCAN min 10) + reduce_outliers(strategy='embeddings'), K unknown",
    "gold": "the gold labels of the train split: the ceiling",
}
DEFAULT_METHODS = "dialin,kmeans,bertopic,gold"
Say = Callable[[str], None]


def parse_downstream_methods(spec: str | None) -> list[str]:
    from dialin.measure.bench import METHODS

    names = [m.strip() for m in (spec or DEFAULT_METHODS).split(",") if m.strip()]
    known = list(METHODS) + list(PEERS)
    unknown = [m for m in names if m not in known]
    if unknown:
        raise DialinError(f"unknown downstream method(s) {', '.join(unknown)}: choose from {', '.join(known)}")
    return list(dict.fromkeys(names))


def subset(corpus: Corpus, rows: list[int], source: str) -> Corpus:
    """A corpus of the given rows (blank rows dropped)."""
    blank = set(corpus.blank_rows)
    keep = [i for i in rows if i not in blank]
    return Corpus(texts=[corpus.texts[i] for i in keep], source=source,
                  labels=[corpus.labels[i] for i in keep] if corpus.labels else None,
                  roles=[corpus.roles[i] for i in keep] if corpus.roles else None)


def sample(corpus: Corpus, n: int | None, seed: int) -> Corpus:
    """``n`` rows drawn at random (seeded) in their original order; all rows when ``n`` is None or larger."""
    if n is None or n >= len(corpus):
        return corpus
    rows = sorted(np.random.default_rng(seed).choice(len(corpus), n, replace=False).tolist())
    return subset(corpus, rows, f"{corpus.source} (random {n} rows, seed {seed})")


def held_out_intents(labels: list[str], share: float, seed: int) -> list[str]:
    names = sorted(set(labels))
    n = max(1, int(round(share * len(names))))
    return sorted(np.random.default_rng(seed).choice(names, n, replace=False).tolist())


def majority_acc(y_true: list[str], y_pred: list[str]) -> float:
    """Each predicted intent mapped to its most frequent gold label (rewards splitting: shown for contrast)."""
    C = contingency(encode(y_true), encode(y_pred))
    return float(C.max(axis=0).sum() / len(y_true))


class _Labeller:
    """Training labels (one per unique train utterance, None = left out) from each method."""

    def __init__(self, config: Config, seed: int, store: Any, base_urls: dict[str, str] | None,
                 client_factory: Any, on_event: Any) -> None:
        self.config, self.seed, self.store = config, seed, store
        self.base_urls, self.client_factory, self.on_event = base_urls, client_factory, on_event

    def __call__(self, name: str, train: Corpus, X: np.ndarray) -> tuple[list[str | None] | None, dict[str, Any]]:
        from dialin.measure.bench import DIALIN_VARIANTS, _baseline, variant_config

        gold_unique = _unique_gold(train)
        if name == "gold":
            return list(gold_unique), {}
        if name == "bertopic":
            if importlib.util.find_spec("bertopic") is None:
                return None, {"skipped": f"BERTopic is not installed: {INSTALL}"}
            topics = bertopic_labels(X, list(train.unique_texts), self.seed)
            return [f"topic-{t}" for t in topics], {}
        if name in DIALIN_VARIANTS:
            from dialin.runner import local_base_urls, run_discovery

            if self.base_urls is None:
                self.base_urls = local_base_urls(self.config)
            result = run_discovery(train, variant_config(self.config, name, self.seed), store=self.store,
                                   base_urls=self.base_urls, client_factory=self.client_factory,
                                   on_event=self.on_event)
            owner: dict[int, str] = {i: c["name"] for c in result["clusters"] for i in c["members"]}
            return [owner.get(i) for i in range(len(train.unique_texts))], {"run_id": result["run_id"]}
        labels, extra = _baseline(name, X, len(set(gold_unique)), self.seed)
        return [None if int(v) == -1 else f"cluster-{int(v)}" for v in labels], extra


def _unique_gold(corpus: Corpus) -> list[str]:
    assert corpus.labels is not None
    out: list[str] = [""] * len(corpus.unique_texts)
    for label, u in zip(corpus.labels, corpus.row_to_unique):
        if u >= 0 and not out[u]:
            out[u] = label
    return out


def _train(labels: list[str | None], X: np.ndarray, seed: int) -> tuple[Any, int]:
    from dialin.classify.classifier import IntentClassifier

    keep = [i for i, v in enumerate(labels) if v is not None]
    if len({labels[i] for i in keep}) < 2:
        raise DialinError("fewer than 2 clusters to train on")
    clf = IntentClassifier(seed=seed).fit_vectors(X[keep], [str(labels[i]) for i in keep])
    return clf, len(keep)


def run_downstream(train: Corpus, test: Corpus, config: Config, methods: list[str], *, seed: int = 0,
                   unknown_share: float | None = None, store: Any = None, base_urls: dict[str, str] | None = None,
                   client_factory: Any = None, on_event: Any = None, say: Say | None = None) -> dict[str, Any]:
    """Train the classifier on each method's clusters of ``train``; score it on ``test`` (see the module doc)."""
    from dialin.embed import make_embedder
    from dialin.store import Store

    if train.labels is None or test.labels is None:
        raise DialinError("the downstream measure needs gold labels in both splits: pass --label-col")
    if unknown_share is not None and not 0 < unknown_share < 1:
        raise DialinError(f"--unknown-share must be between 0 and 1 (got {unknown_share})")
    say = say or (lambda _msg: None)
    store = store or Store(config.store_path())
    embedder = make_embedder(config.embedder, store)
    t0 = time.perf_counter()
    X_train = np.asarray(embedder.encode(train.unique_texts), dtype=np.float32)
    X_test = np.asarray(embedder.encode(test.unique_texts), dtype=np.float32)
    say(f"embedded {len(train.unique_texts)} train and {len(test.unique_texts)} test sentences with {embedder.name} "
        f"in {time.perf_counter() - t0:.1f} s")
    test_rows = [i for i, u in enumerate(test.row_to_unique) if u >= 0]
    gold_test = [test.labels[i] for i in test_rows]
    labeller = _Labeller(config, seed, store, base_urls, client_factory, on_event)
    held: list[str] = []
    train_known: Corpus | None = None
    if unknown_share is not None:
        held = held_out_intents(train.labels, unknown_share, seed)
        keep = [i for i, lab in enumerate(train.labels) if lab not in set(held)]
        train_known = subset(train, keep, f"{train.source} without {len(held)} held-out intents")
    rows = []
    for name in methods:
        say(f"downstream: {name} ...")
        t1 = time.perf_counter()
        labels, extra = labeller(name, train, X_train)
        discover_s = time.perf_counter() - t1
        if labels is None:
            say(f"  {name}: skipped ({extra['skipped']})")
            rows.append({"method": name, **extra})
            continue
        clf, n_used = _train(labels, X_train, seed)
        t2 = time.perf_counter()
        P = clf.predict_proba_vectors(X_test)
        classify_s = time.perf_counter() - t2
        pred_unique = clf.classes_[P.argmax(axis=1)]
        pred = [str(pred_unique[test.row_to_unique[i]]) for i in test_rows]
        row = {"method": name, "acc": round(100 * acc(gold_test, pred), 2),
               "acc_majority": round(100 * majority_acc(gold_test, pred), 2),
               "nmi": round(100 * nmi(gold_test, pred), 2), "intents": len(clf.classes_),
               "train_utterances": n_used, "left_out": len(labels) - n_used, "discover_s": round(discover_s, 2),
               "train_s": clf.train_s_, "classify_s": round(classify_s, 3), **extra}
        if train_known is not None:
            row.update(_unknown_detection(name, train, train_known, held, test, test_rows, labeller, embedder, seed))
        say(f"  {name}: ACC {row['acc']:.2f} (majority {row['acc_majority']:.2f}), {row['intents']} intents"
            + (f", unknown AUROC {row['unknown_auroc']}" if "unknown_auroc" in row else ""))
        rows.append(row)
    gold_row = next((r for r in rows if r["method"] == "gold" and "acc" in r), None)
    if gold_row:
        for r in rows:
            if "acc" in r:
                r["below_ceiling"] = round(gold_row["acc"] - r["acc"], 2)
    return {"train": train.source, "test": test.source, "train_rows": len(train), "test_rows": len(test_rows),
            "train_intents": len(set(train.labels)), "test_intents": len(set(gold_test)), "embedder": embedder.name,
            "seed": seed, "classifier": "logistic regression (C 10) on the embeddings, temperature-calibrated",
            "unknown_share": unknown_share, "held_out_intents": held, "table": rows}


def _unknown_detection(name: str, train: Corpus, train_known: Corpus, held: list[str], test: Corpus,
                       test_rows: list[int], labeller: _Labeller, embedder: Any, seed: int) -> dict[str, Any]:
    X_known = np.asarray(embedder.encode(train_known.unique_texts), dtype=np.float32)
    labels, _ = labeller(name, train_known, X_known)
    if labels is None:
        return {}
    clf, _ = _train(labels, X_known, seed)
    X_test = np.asarray(embedder.encode(test.unique_texts), dtype=np.float32)
    conf_unique = clf.predict_proba_vectors(X_test).max(axis=1)
    assert test.labels is not None
    is_new = [test.labels[i] in set(held) for i in test_rows]
    conf = np.asarray([conf_unique[test.row_to_unique[i]] for i in test_rows])
    auroc = roc_auc(is_new, (1.0 - conf).tolist())
    flagged = conf < clf.threshold_
    new = np.asarray(is_new)
    return {"unknown_auroc": None if auroc is None else round(auroc, 4),
            "unknown_recall": round(float(flagged[new].mean()), 4) if new.any() else None,
            "false_unknown": round(float(flagged[~new].mean()), 4) if (~new).any() else None,
            "unknown_threshold": round(clf.threshold_, 4)}


def format_downstream(rep: dict[str, Any]) -> str:
    lines = [f"downstream: discover on {rep['train']} ({rep['train_rows']} rows, {rep['train_intents']} gold intents), "
             f"classify {rep['test']} ({rep['test_rows']} rows); {rep['classifier']}; embedder {rep['embedder']}; "
             f"seed {rep['seed']}",
             "ACC: Hungarian one-to-one mapping of predicted intents to gold; majority: each predicted intent "
             "to its most frequent gold label (rewards splitting)"]
    unknown = rep.get("unknown_share") is not None
    head = (f"{'method':<16} {'ACC':>6} {'major':>6} {'NMI':>6} {'ceil-':>6} {'#int':>5} {'train':>6} "
            f"{'disc_s':>7} {'train_s':>7}")
    lines.append(head + (f" {'unkAUROC':>8} {'unk_rec':>7} {'false_unk':>9}" if unknown else ""))
    for r in rep["table"]:
        if "acc" not in r:
            lines.append(f"{r['method']:<16} skipped: {r.get('skipped', '')}")
            continue
        line = (f"{r['method']:<16} {r['acc']:>6.2f} {r['acc_majority']:>6.2f} {r['nmi']:>6.2f} "
                f"{r.get('below_ceiling', float('nan')):>6.2f} {r['intents']:>5} {r['train_utterances']:>6} "
                f"{r['discover_s']:>7.1f} {r['train_s']:>7.2f}")
        if unknown:
            line += (f" {_f(r.get('unknown_auroc')):>8} {_f(r.get('unknown_recall')):>7} "
                     f"{_f(r.get('false_unknown')):>9}")
        lines.append(line)
    if unknown:
        lines.append(f"unknown detection: {len(rep['held_out_intents'])} intents held out of discovery "
                     f"({', '.join(rep['held_out_intents'][:8])}{' ...' if len(rep['held_out_intents']) > 8 else ''})")
    for r in rep["table"]:
        if r.get("run_id"):
            lines.append(f"{r['method']}: run {r['run_id']}")
    return "\n".join(lines)


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"
