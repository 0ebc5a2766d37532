import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own DIALIN_HOME (store, caches), never the user's."""
    if "DIALIN_TEST_SHARED_HOME" not in os.environ:
        monkeypatch.setenv("DIALIN_HOME", str(tmp_path / "dialin-home"))
    for key in list(os.environ):
        if key.startswith("DIALIN__") or key == "DIALIN_CONFIG":
            monkeypatch.delenv(key)


def shared_data(rel: str) -> Path:
    """A dataset under ../shared/data, or skip with the reason."""
    path = SHARED / "data" / rel
    if not path.exists():
        pytest.skip(f"needs {path} (the shared datasets sit beside the repo in CI; absent in a fresh clone)")
    return path


def labelled_subset(rel: str, out: Path, intents: int = 16, per: int = 40, split: str | None = None) -> Path:
    """The first ``per`` rows of the first ``intents`` labels (sorted) of a shared JSONL dataset, as a new file."""
    rows = [json.loads(x) for x in shared_data(rel).read_text(encoding="utf-8").splitlines() if x.strip()]
    rows = [r for r in rows if split is None or r.get("split") == split]
    keep = sorted({r["label"] for r in rows})[:intents]
    picked = [r for lab in keep for r in [r for r in rows if r["label"] == lab][:per]]
    out.write_text("".join(json.dumps(r) + "\n" for r in picked), encoding="utf-8")
    return out
