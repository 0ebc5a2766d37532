"""The HTML report in a real headless Chromium (DevTools protocol): it loads clean, draws, filters, escapes.

CI needs Debian's ``chromium`` package (``apt-get install -y chromium``); without it these skip.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cdp import Browser, chromium_binary
from dialin.inspect.report import write_report
from dialin.inspect import edits
from inspect_runs import NASTY, base_run, view  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("websockets") is None,
                       reason="drives Chromium with the websockets package: pip install websockets"),
    pytest.mark.skipif(chromium_binary() is None,
                       reason="needs a headless Chromium: apt-get install -y chromium (Debian) to run browser tests"),
]


@pytest.fixture
def browser():
    b = Browser(chromium_binary() or "chromium")
    try:
        yield b
    finally:
        b.close()


def visible_rows(b: Browser) -> list[str]:
    return b.eval("[...document.querySelectorAll('#cluster-table tbody tr')].filter(r => !r.hidden)"
                  ".map(r => r.querySelector('.cname').textContent)")


def test_report_in_a_browser(view, browser, tmp_path):  # noqa: F811
    result = view.result()
    refund = next(c["id"] for c in result["clusters"] if c["name"] == "request-refund")
    result = edits.rename(result, refund, "request-refund <img src=x onerror=\"window.__dialin_xss = 3\">")
    page = write_report(result, tmp_path / "report.html", view.vectors(), projection="tsne",
                        revision={"revision": 1, "note": "discovery"})
    browser.goto(page.as_uri())
    assert browser.eval("document.body.getAttribute('data-ready')") == "1"
    assert browser.errors() == []

    # the map: one point per utterance, hover shows the text
    n = len(result["unique_texts"])
    assert browser.eval("document.querySelectorAll('#map-svg circle').length") == n
    nasty = result["unique_texts"].index(NASTY)
    browser.eval(f"document.querySelector('#map-svg circle[data-i=\"{nasty}\"]').scrollIntoView()")
    box = browser.eval(f"(() => {{ const r = document.querySelector('#map-svg circle[data-i=\"{nasty}\"]')"
                       ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    browser.send("Input.dispatchMouseEvent", type="mouseMoved", x=box[0], y=box[1])
    assert browser.eval("getComputedStyle(document.getElementById('tooltip')).display") == "block"
    assert browser.eval("document.getElementById('tooltip').firstChild.textContent") == NASTY
    # the K-search curve, the sizes, the metrics
    assert browser.eval("document.querySelectorAll('#kcurve-svg polyline').length") == len(
        {h["iteration"] for h in result["history"]})
    assert browser.eval("document.querySelectorAll('#kcurve-svg circle.chosen').length") >= 1
    assert browser.eval("document.querySelectorAll('#sizes-svg rect').length") == len(result["clusters"])
    assert browser.eval("document.getElementById('metrics').hidden") is False

    # search filters the table
    assert len(visible_rows(browser)) == len(result["clusters"])
    browser.eval("document.getElementById('search').focus()")
    browser.send("Input.insertText", text="refund")
    assert visible_rows(browser) == ["request-refund <img src=x onerror=\"window.__dialin_xss = 3\">"]
    assert browser.eval("document.getElementById('count').textContent") == f"1 of {len(result['clusters'])} clusters"
    browser.eval("{ const s = document.getElementById('search'); s.value = 'window.__dialin'; "
                 "s.dispatchEvent(new Event('input')); }")
    assert len(visible_rows(browser)) == 2  # the utterance's cluster, and the renamed one

    # markup in the data stays text: no extra script, image or bold element, nothing ran
    assert browser.eval("document.scripts.length") == 2
    assert browser.eval("document.querySelectorAll('img, #cluster-table b, #merges b').length") == 0
    assert browser.eval("window.__dialin_xss === undefined") is True
    assert browser.eval(f"[...document.querySelectorAll('td div')].some(d => d.textContent === {NASTY!r})") is True

    browser.eval("{ const s = document.getElementById('search'); s.value = ''; s.dispatchEvent(new Event('input')); }"
                 f"document.querySelector('tr[data-id=\"{refund}\"]').click(); window.scrollTo(0, 0)")
    assert browser.eval("document.querySelectorAll('#map-svg circle.on').length") == next(
        c["n_unique"] for c in result["clusters"] if c["id"] == refund)
    shot = browser.screenshot(tmp_path / "report.png")
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    assert browser.errors() == []


def test_report_without_embeddings(view, browser, tmp_path):  # noqa: F811
    page = write_report(view.result(), Path(tmp_path) / "nomap.html", None)
    browser.goto(page.as_uri())
    assert browser.eval("document.body.getAttribute('data-ready')") == "1"
    assert "map omitted" in browser.eval("document.getElementById('map-note').textContent")
    assert browser.errors() == []
