"""scripts/make_scale_corpus.py on a tiny input: sizes, gold labels kept, deterministic, distinct."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("make_scale_corpus", ROOT / "scripts" / "make_scale_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _tiny_data(root: Path) -> Path:
    rows = {"banking77/banking77.jsonl": [("where is my card", "card_arrival"), ("my card has not arrived yet",
                                                                                 "card_arrival"),
                                          ("what is the exchange rate", "exchange_rate")],
            "hwu64/hwu64.jsonl": [("wake me up at seven", "alarm_set"), ("set an alarm for noon", "alarm_set")]}
    for rel, items in rows.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("".join(json.dumps({"text": t, "label": lab, "split": "train"}) + "\n"
                                        for t, lab in items), encoding="utf-8")
    return root


def _read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_sizes_labels_and_determinism(tmp_path):
    mod = _script()
    data = _tiny_data(tmp_path / "data")
    assert mod.main(["--out", str(tmp_path / "a"), "--data", str(data), "--sizes", "3,5,40", "--seed", "7"]) == 0
    assert mod.main(["--out", str(tmp_path / "b"), "--data", str(data), "--sizes", "40", "--seed", "7"]) == 0
    small, five, big = (_read(tmp_path / "a" / f"scale-{n}.jsonl") for n in (3, 5, 40))
    assert [len(small), len(five), len(big)] == [3, 5, 40]
    assert all(not r["variant"] for r in five)  # the real rows come first
    assert big[:5] == five and five[:3] == small  # every size is a prefix of the next
    assert big == _read(tmp_path / "b" / "scale-40.jsonl")  # same seed, same rows
    assert len({r["text"] for r in big}) == 40  # variants are distinct sentences
    real = {r["text"]: r["label"] for r in five}
    assert set(real.values()) == {"banking77/card_arrival", "banking77/exchange_rate", "hwu64/alarm_set"}
    for r in big[5:]:
        assert r["variant"] and r["of"] in real and r["label"] == real[r["of"]]  # gold label of its source
    mod.main(["--out", str(tmp_path / "c"), "--data", str(data), "--sizes", "40", "--seed", "8"])
    assert _read(tmp_path / "c" / "scale-40.jsonl") != big  # the seed matters


def test_variants_keep_the_words():
    mod = _script()
    import random

    rng = random.Random(0)
    for _ in range(200):
        text, edits = mod.variant("please transfer money to my savings account", rng)
        assert edits and text != ""
        if "typo" not in edits:
            assert "transfer money to my savings account" in text.lower()


def test_refuses_repo_output_and_missing_data(tmp_path, capsys):
    mod = _script()
    assert mod.main(["--out", str(ROOT / "scale-out"), "--data", str(_tiny_data(tmp_path))]) == 2
    assert "inside the repository" in capsys.readouterr().err
    assert not (ROOT / "scale-out").exists()
    with pytest.raises(SystemExit, match="--data"):
        mod.main(["--out", str(tmp_path / "o"), "--data", str(tmp_path / "nothing")])
