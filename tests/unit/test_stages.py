"""Per-stage seconds and peak RSS: the meter itself, and every stage of a (fake-LLM) discovery run."""

import subprocess
import sys
from pathlib import Path

from dialin.measure.stages import measured
from test_graph import run


METER_CHECK = """
import time
import numpy as np
from dialin.measure.stages import StageMeter, format_stages, measured, rss_bytes

@measured("inner")
def allocate(mb):
    block = np.ones(mb * 2 ** 20 // 8)  # touched pages: resident
    time.sleep(0.15)
    return int(block.sum() > 0)

with StageMeter(interval_s=0.01) as meter:
    base = rss_bytes()
    time.sleep(0.05)
    assert allocate(200) == 1
    time.sleep(0.05)
    meter.mark("outer")
    time.sleep(0.02)
    meter.mark("cluster")  # a graph node is reported under its stage name
rows = {r["stage"]: r for r in meter.report()}
assert rows["inner"]["seconds"] >= 0.15 and rows["outer"]["seconds"] >= 0.09
assert rows["outer"]["seconds"] < rows["inner"]["seconds"]  # the split-out part is not counted twice
assert rows["inner"]["peak_rss_mb"] >= (base + 150 * 2 ** 20) / 2 ** 20, (rows, base)  # the 200 MB block was seen
assert rows["outer"]["peak_rss_mb"] < rows["inner"]["peak_rss_mb"]
assert rows["clustering"]["times"] == 1 and "cluster" not in rows
assert rows["total"]["seconds"] >= rows["inner"]["seconds"] + rows["outer"]["seconds"]
assert "peak RSS MB" in format_stages(meter.report())
"""


def test_meter_books_time_and_peak_to_the_stage_that_ran():
    # in a fresh interpreter: in the long-lived test process (GBs resident after the integration tests)
    # RSS is not monotonic and a new block may reuse resident pages, so "peak >= base + block" is unsound there
    done = subprocess.run([sys.executable, "-c", METER_CHECK], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-3000:]


def test_measured_is_a_no_op_without_a_meter():
    assert measured("x")(lambda a: a + 1)(1) == 2


def test_a_run_reports_every_stage(tmp_path):
    result, fake, store, labels = run(tmp_path)
    stages = {r["stage"]: r for r in result["stats"]["stages"]}
    for stage in ("embedding", "clustering", "cascade", "judging", "leftovers", "naming", "merging", "store",
                  "total"):
        assert stage in stages, stages
        assert stages[stage]["seconds"] >= 0 and stages[stage]["peak_rss_mb"] > 10
    assert stages["clustering"]["times"] == stages["cascade"]["times"] >= 1  # one per iteration
    booked = sum(r["seconds"] for r in result["stats"]["stages"] if r["stage"] != "total")
    assert booked <= stages["total"]["seconds"] + 0.01
