"""Wall seconds and peak memory per stage of a run (``dialin run`` prints them; ``--json``: ``stats.stages``).

The runner marks a stage when it ends (``meter.mark("embedding")``, or the graph node that just
finished); a tool can split its share out with ``@measured("cascade")``. A background thread
samples this process's resident set size (RSS) every 50 ms, so each stage's peak is the peak
while it ran, not the run's peak so far. Servers in other processes (llama.cpp, vLLM) are not
counted.
"""

from __future__ import annotations

import functools
import os
import resource
import sys
import threading
import time
import weakref
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

NODE_STAGES = {"start": "setup", "propose_k": "k_proposal", "cluster": "clustering", "judge_cluster": "judging",
               "select_k": "k_selection", "leftovers": "leftovers", "name": "naming", "roles": "roles",
               "merge": "merging", "finalize": "store"}
"""Graph node -> the stage it is reported as."""

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_ACTIVE: list["weakref.ref[StageMeter]"] = []
"""Meters running now (weak: a run that raised drops its meter and the sampling thread ends)."""


def rss_bytes() -> int:
    """This process's resident set size now (Linux /proc); else its peak so far (getrusage)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class StageMeter:
    """Accumulates (seconds, peak RSS, times) per stage; the window since the last mark is open."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.stages: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = self._window_start = time.perf_counter()
        self._cpu0 = self._window_cpu = time.process_time()
        self._window_peak = rss_bytes()
        self._carry = (0.0, 0, 0.0)

    def __enter__(self) -> "StageMeter":
        return self.start()

    def start(self) -> "StageMeter":
        self._t0 = self._window_start = time.perf_counter()
        self._cpu0 = self._window_cpu = time.process_time()
        self._window_peak = rss_bytes()
        self._thread = threading.Thread(target=_sample, args=(weakref.ref(self), self._stop, self.interval_s),
                                        name="dialin-rss", daemon=True)
        self._thread.start()
        _ACTIVE.append(weakref.ref(self))
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        _ACTIVE[:] = [r for r in _ACTIVE if r() is not None and r() is not self]

    def _observe(self, rss: int) -> None:
        with self._lock:
            self._window_peak = max(self._window_peak, rss)

    def _close_window(self) -> tuple[float, int, float]:
        now, cpu = time.perf_counter(), time.process_time()
        rss = rss_bytes()
        with self._lock:
            window = (now - self._window_start, max(self._window_peak, rss), cpu - self._window_cpu)
            self._window_start, self._window_peak, self._window_cpu = now, rss, cpu
        return window

    def _add(self, stage: str, seconds: float, peak: int, cpu: float = 0.0) -> None:
        row = self.stages.setdefault(stage, {"seconds": 0.0, "peak_rss": 0, "times": 0, "cpu": 0.0})
        row["seconds"] += seconds
        row["cpu"] += cpu
        row["peak_rss"] = max(row["peak_rss"], peak)
        row["times"] += 1

    def mark(self, stage: str) -> None:
        """``stage`` just ended: it gets the time and peak since the previous mark (less split-out parts)."""
        seconds, peak, cpu = self._close_window()
        carried_s, carried_peak, carried_cpu = self._carry
        self._carry = (0.0, 0, 0.0)
        self._add(NODE_STAGES.get(stage, stage), seconds + carried_s, max(peak, carried_peak), cpu + carried_cpu)

    def split(self, stage: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` and book it as ``stage``; the enclosing stage keeps the time around it."""
        before_s, before_peak, before_cpu = self._close_window()
        try:
            return fn()
        finally:
            seconds, peak, cpu = self._close_window()
            carried_s, carried_peak, carried_cpu = self._carry
            self._carry = (carried_s + before_s, max(carried_peak, before_peak), carried_cpu + before_cpu)
            self._add(stage, seconds, peak, cpu)

    def report(self) -> list[dict[str, Any]]:
        """One row per stage in the order first seen: wall seconds, this process's CPU seconds (all its
        threads; servers in other processes not counted), peak RSS in MB, how many times it ran."""
        total = time.perf_counter() - self._t0
        rows = [{"stage": k, "seconds": round(v["seconds"], 3), "cpu_seconds": round(v["cpu"], 3),
                 "peak_rss_mb": round(v["peak_rss"] / 2 ** 20, 1), "times": int(v["times"])}
                for k, v in self.stages.items()]
        peak = max([v["peak_rss"] for v in self.stages.values()] + [rss_bytes()])
        rows.append({"stage": "total", "seconds": round(total, 3), "cpu_seconds": round(time.process_time() - self._cpu0, 3),
                     "peak_rss_mb": round(peak / 2 ** 20, 1), "times": 1})
        return rows


def _sample(ref: "weakref.ref[StageMeter]", stop: threading.Event, interval_s: float) -> None:
    """The sampling thread; it ends with stop() or when its meter is gone (a run that raised)."""
    while not stop.wait(interval_s):
        meter = ref()
        if meter is None:
            return
        meter._observe(rss_bytes())
        del meter


def measured(stage: str) -> Callable[[F], F]:
    """Book a function's calls as ``stage`` in the running meter (a no-op when none runs)."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            meter = next((m for m in (r() for r in reversed(_ACTIVE)) if m is not None), None)
            if meter is None:
                return fn(*args, **kwargs)
            return meter.split(stage, lambda: fn(*args, **kwargs))
        return inner  # type: ignore[return-value]
    return wrap


def format_stages(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'stage':<13} {'seconds':>9} {'CPU s':>9} {'peak RSS MB':>12} {'times':>6}"]
    lines += [f"{r['stage']:<13} {r['seconds']:>9.2f} {r.get('cpu_seconds', 0.0):>9.2f} {r['peak_rss_mb']:>12.1f} "
              f"{r['times']:>6}" for r in rows]
    return "\n".join(lines)
