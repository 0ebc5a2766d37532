"""Probe: does the bundled 0.5B LLM see coherence as a language model, where as a judge it does not?

As a judge it says `good` to nearly everything (docs/BENCHMARKS.md sections 3 and 11). Here it
only reads: a cluster's members (at most 10, shuffled) are written as one list under a short
header, and each member's mean token log-probability given the members before it is compared
with the same sentence alone. Scores per cluster: the mean of that in-context gain over members
2..10 (``gain_mean``), its minimum (``gain_min``), the mean conditional log-probability
(``cond_mean``), and the coherence model's rank plus ``gain_mean``'s. AUC on pure vs nearest-intent
mixtures and on real clusters (judge-eval clusters, seed 0). The model runs in-process through
transformers (the GGUF de-quantised, as ``dialin finetune`` loads it), 2 threads; slow, a probe.

    cd scripts && ../.venv/bin/python probe_likelihood.py hwu64:test 10 40     # SET N PER_DIFFICULTY
"""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy.stats import rankdata

from bench_embedder import load
from harness import default_store  # noqa: E402  (beside this script)
from dialin.config import EmbedderConfig
from dialin.embed import BUNDLED_MINILM, make_embedder
from dialin.finetune.train import load_base
from dialin.measure.judge_sets import GROUPS as JUDGE_GROUPS
from dialin.measure.judge_sets import build_test_set
from dialin.measure.metrics import roc_auc
from dialin.store import Store
from dialin.tools.coherence import load_model

HEAD = "Messages customers sent about the same request:\n"
GROUPS = {"hard": JUDGE_GROUPS["hard"], "hard_mix2": ("pure", "hard_mix2"), "hard_intruder": ("pure", "hard_intruder"),
          "real": JUDGE_GROUPS["real"]}


class Reader:
    def __init__(self) -> None:
        import torch

        torch.set_num_threads(2)
        self.torch = torch
        base = load_base("bundled:qwen2.5-coder-0.5b", "cpu")
        self.tok, self.lm = base.tokenizer, base.model.eval()

    def logprobs(self, texts: list[str]) -> list[float]:
        """HEAD + one "- text" line per text, read once; each text's mean token log-probability."""
        torch = self.torch
        ids = self.tok(HEAD, add_special_tokens=False)["input_ids"]
        spans = []
        for t in texts:
            piece = self.tok("- " + t.strip() + "\n", add_special_tokens=False)["input_ids"]
            spans.append((len(ids), len(ids) + len(piece)))
            ids += piece
        with torch.no_grad():
            logits = self.lm(torch.tensor([ids])).logits[0].float()
        lp = torch.log_softmax(logits[:-1], -1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0].numpy()
        return [float(lp[a:b - 1].mean()) for a, b in spans]  # the tokens after "- " (lp[i] predicts ids[i + 1])


def main() -> None:
    spec, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    emb = make_embedder(EmbedderConfig(model=BUNDLED_MINILM, progress=False), Store(default_store()))
    model = load_model()
    _, texts, labels, _ = load(spec, None)
    X = np.asarray(emb.encode(texts), dtype=np.float64)
    frame = model.frame(X)
    tests, _ = build_test_set(labels, X, n=n, per_difficulty=per, seed=0,
                              difficulties=["pure", "hard_mix2", "hard_intruder", "real"])
    reader, rng = Reader(), np.random.default_rng(0)
    t0 = time.time()
    alone = {j: reader.logprobs([texts[j]])[0] for j in sorted({j for t in tests for j in t.members})}
    print(f"{len(alone)} sentences read alone in {time.time() - t0:.0f} s", flush=True)
    t0 = time.time()
    out: dict[str, list[float]] = {"model": [], "gain_mean": [], "gain_min": [], "cond_mean": []}
    for t in tests:
        m = list(t.members)[:10]
        rng.shuffle(m)
        c = reader.logprobs([texts[j] for j in m])
        gain = [c[i] - alone[j] for i, j in enumerate(m)][1:]
        out["model"].append(model.score(frame, list(t.members)))
        out["gain_mean"].append(float(np.mean(gain)))
        out["gain_min"].append(float(np.min(gain)))
        out["cond_mean"].append(float(np.mean(c[1:])))
    print(f"{len(tests)} clusters read in {time.time() - t0:.0f} s", flush=True)
    F = {k: np.array(v) for k, v in out.items()}
    F["model+gain_mean"] = rankdata(F["model"]) + rankdata(F["gain_mean"])
    y = np.array([t.gold == "good" for t in tests])
    d = np.array([t.difficulty for t in tests])
    print("| score | " + " | ".join(GROUPS) + " |")
    for name, s in F.items():
        print(f"| {name} | " + " | ".join(f"{roc_auc(y[np.isin(d, g)], s[np.isin(d, g)]):.3f}"
                                           for g in GROUPS.values()) + " |")


if __name__ == "__main__":
    main()
