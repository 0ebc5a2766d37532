"""The HTML report's data and its escaping (the page itself is tested in a browser: integration)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from dialin.inspect.report import project_2d, render_report, report_data, safe_json, write_report
from dialin.inspect import edits
from inspect_runs import NASTY, base_run, view  # noqa: F401  (fixtures)


def embedded_data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="dialin-data">(.*?)</script>', page, re.S)
    assert m, "no data element"
    return json.loads(m.group(1))


def test_safe_json_cannot_close_a_script_and_round_trips():
    obj = {"t": ["</script><script>alert(1)</script>", "a & b", "<!-- x -->", "line\u2028sep\u2029", "ünï"]}
    text = safe_json(obj)
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == obj


def test_report_data_has_every_part(view):  # noqa: F811
    result = view.result()
    data = report_data(result, view.vectors(), projection="pca", revision={"revision": 1, "note": "discovery"})
    n = len(result["unique_texts"])
    pts = data["points"]
    assert len(pts["idx"]) == len(pts["x"]) == len(pts["label"]) == n and pts["projection"] == "pca"
    assert 0.0 <= min(pts["x"]) and max(pts["y"]) <= 1.0
    owner = {i: c["id"] for c in result["clusters"] for i in c["members"]}
    assert pts["label"] == [owner.get(i, -1) for i in pts["idx"]]
    assert [c["id"] for c in data["clusters"]] == [c["id"] for c in result["clusters"]]
    assert data["metrics"]["nmi"] > 80
    assert {h["k"] for h in data["history"] if h["iteration"] == 1} == {2, 4, 6}
    assert sum(h["chosen"] for h in data["history"] if h["iteration"] == 1) == 1
    judged = next(c for c in data["clusters"] if c["verdict"] and c["verdict"]["votes"])
    assert judged["sample"] and judged["verdict"]["votes"][0]["role"] == "judge"
    assert report_data(result, None)["points"] is None
    few = report_data(result, view.vectors(), projection="pca", max_points=10)["points"]
    assert len(few["idx"]) == 10 and few["total"] == n and few["idx"] == sorted(few["idx"])


def test_page_embeds_data_once_and_escaped(view, tmp_path):  # noqa: F811
    result = view.result()
    cid = result["clusters"][0]["id"]
    result = edits.rename(result, cid, "</script><script>alert('name')</script>")
    path = write_report(result, tmp_path / "sub" / "report.html", view.vectors(), projection="pca")
    page = path.read_text(encoding="utf-8")
    assert page.count("<script") == 2 and page.count("</script>") == 2, "data must not open or close a script"
    assert NASTY not in page and "<script>alert" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        '"http://www.w3.org/2000/svg"', ""), "the page must not load anything"
    data = embedded_data(page)
    assert NASTY in data["texts"]
    assert data["clusters"][0]["name"] == "</script><script>alert('name')</script>"
    assert "<title>dialin report: " + view.run_id + "</title>" in page


def test_title_is_escaped():
    page = render_report({"run_id": "<b>x</b>"}, template="<title><!--DIALIN_TITLE--></title>/*DIALIN_DATA*/")
    assert page.startswith("<title>dialin report: &lt;b&gt;x&lt;/b&gt;</title>{")
    with pytest.raises(ValueError, match="marker"):
        render_report({}, template="<html></html>")


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_projection_is_2d_in_the_unit_square(method):
    X = np.random.default_rng(0).normal(size=(40, 16))
    Y, used = project_2d(X, method)
    assert Y.shape == (40, 2) and used == method
    assert np.allclose(Y.min(axis=0), 0) and np.allclose(Y.max(axis=0), 1)


def test_projection_edge_cases():
    assert project_2d(np.zeros((0, 8)))[0].shape == (0, 2)
    Y, used = project_2d(np.ones((3, 8)), "tsne")
    assert used == "pca" and Y.shape == (3, 2) and np.isfinite(Y).all()
    assert project_2d(np.eye(4)[:, :1], "pca")[0].shape == (4, 2)
