"""Tests for dialin.tools.merging."""

from __future__ import annotations

import numpy as np
import pytest

from dialin.tools.merging import (
    KAPPA_MAX,
    MergePlan,
    _log_bessel_iv,
    cosine_distance,
    equivalent_cosine_theta,
    estimate_kappa,
    geodesic_distance,
    log_vmf_normaliser,
    merge_labels,
)


def _arc(*angles: float) -> np.ndarray:
    """Unit vectors on a great circle of S^2 at the given angles (radians)."""
    a = np.asarray(angles)
    return np.stack([np.cos(a), np.sin(a), np.zeros_like(a)], axis=1)


def _two_groups() -> np.ndarray:
    rng = np.random.default_rng(0)
    A = np.array([1.0, 0, 0, 0]) + 0.05 * rng.standard_normal((3, 4))
    B = np.array([0, 0, 1.0, 0]) + 0.05 * rng.standard_normal((3, 4))
    return np.vstack([A[:2], B[:1], A[2:], B[1:]])  # rows: A A B A B B


def _check_partition(plan: MergePlan, n: int) -> None:
    flat = [i for g in plan.groups for i in g]
    assert sorted(flat) == list(range(n))
    assert all(g == sorted(g) for g in plan.groups)
    assert [g[0] for g in plan.groups] == sorted(g[0] for g in plan.groups)


def test_distances() -> None:
    E = np.array([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [1.0, 1.0]])
    G = geodesic_distance(E)
    assert G[0, 1] == pytest.approx(np.pi / 2)
    assert G[0, 2] == pytest.approx(np.pi)
    assert G[0, 3] == pytest.approx(np.pi / 4)
    assert np.allclose(np.diag(G), 0.0) and np.allclose(G, G.T)
    C = cosine_distance(E)
    assert C[0, 1] == pytest.approx(1.0) and C[0, 2] == pytest.approx(2.0)
    assert C[0, 3] == pytest.approx(1 - np.sqrt(0.5))


@pytest.mark.parametrize("gate", ["probabilistic", "deterministic"])
def test_two_tight_groups_merge_within_not_across(gate: str) -> None:
    E = _two_groups()
    plan = merge_labels(E, gate=gate)  # type: ignore[arg-type]
    assert plan.groups == [[0, 1, 3], [2, 4, 5]]
    _check_partition(plan, 6)
    assert plan.cut_edges == []
    for i, j, d, p in plan.edges:
        assert i < j and d < 0.8 and p > 0.7
    if gate == "deterministic":
        assert plan.kappa is None and all(p == 1.0 for *_, p in plan.edges)
    else:
        assert plan.kappa is not None and plan.kappa > 1.0


def test_probabilistic_gate_cuts_a_bridge_the_deterministic_keeps() -> None:
    # Two tight arcs 0.75 rad apart at their closest: one candidate edge
    # (2, 3) bridges them; the chain spans 1.15 rad > theta.
    E = _arc(0.0, 0.1, 0.2, 0.95, 1.05, 1.15)
    det = merge_labels(E, gate="deterministic")
    assert det.groups == [[0, 1, 2, 3, 4, 5]]
    prob = merge_labels(E, gate="probabilistic")
    assert prob.groups == [[0, 1, 2], [3, 4, 5]]
    assert [(i, j) for i, j, *_ in prob.cut_edges] == [(2, 3)]
    (_, _, d, p), = prob.cut_edges
    assert d == pytest.approx(0.75) and p < 0.01
    assert all(p > 0.99 for *_, p in prob.edges)


def test_identical_vectors() -> None:
    E = np.vstack([np.tile([0.3, 0.4, 0.5], (4, 1)), [[-1.0, 0.2, 0.0]]])
    plan = merge_labels(E)
    assert plan.groups == [[0, 1, 2, 3], [4]]
    assert plan.kappa == KAPPA_MAX
    assert len(plan.edges) == 6
    for *_, d, p in plan.edges:
        assert d == pytest.approx(0.0, abs=1e-6) and p == pytest.approx(1.0)


def test_single_label_and_all_singletons() -> None:
    one = merge_labels(np.array([[0.0, 1.0, 0.0]]))
    assert one == MergePlan(groups=[[0]], edges=[], cut_edges=[], kappa=None)
    far = merge_labels(np.eye(3))
    assert far.groups == [[0], [1], [2]] and far.edges == [] and far.kappa is None


def test_cosine_with_equivalent_theta_matches_geodesic() -> None:
    E = _arc(0.0, 0.1, 0.2, 0.95, 1.05, 1.15)
    geo = merge_labels(E, theta=0.8)
    cos = merge_labels(E, theta=equivalent_cosine_theta(0.8), distance="cosine")
    assert cos.groups == geo.groups
    assert equivalent_cosine_theta(0.8) == pytest.approx(1 - np.cos(0.8))
    loose = merge_labels(E, theta=0.8, distance="cosine", gate="deterministic")
    assert loose.groups == [[0, 1, 2, 3, 4, 5]]


def test_tau_controls_the_gate() -> None:
    # A point midway between two groups has split posteriors.
    E = _arc(0.0, 0.05, 0.35, 0.65, 0.7)
    low = merge_labels(E, tau=0.0)
    high = merge_labels(E, tau=0.999)
    assert len(low.groups) <= len(high.groups)
    assert all(0.0 <= p <= 1.0 + 1e-12 for *_, p in low.edges + high.edges + high.cut_edges)


def test_estimate_kappa_banerjee() -> None:
    En = _arc(0.0, 0.1, 0.2)
    r = (1 + 2 * np.cos(0.1)) / 3
    assert estimate_kappa(En, [[0, 1, 2]]) == pytest.approx(r * (3 - r**2) / (1 - r**2))
    assert estimate_kappa(En, [[0], [1], [2]]) is None


@pytest.mark.parametrize("kappa", [1e-4, 0.5, 1.0, 10.0, 100.0, 700.0])
def test_log_normaliser_d3_closed_form(kappa: float) -> None:
    expected = np.log(kappa / (4 * np.pi * np.sinh(kappa)))
    assert log_vmf_normaliser(kappa, 3) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_log_normaliser_large_kappa_d3_and_d2() -> None:
    k = 1e5  # sinh overflows; use log sinh k = k - log 2 for large k
    assert log_vmf_normaliser(k, 3) == pytest.approx(np.log(k) - np.log(4 * np.pi) - k + np.log(2))
    from scipy.special import i0e

    for k in (0.1, 3.0, 500.0):
        assert log_vmf_normaliser(k, 2) == pytest.approx(-np.log(2 * np.pi) - np.log(i0e(k)) - k)


def test_log_normaliser_zero_kappa_is_uniform_density() -> None:
    assert log_vmf_normaliser(0.0, 3) == pytest.approx(-np.log(4 * np.pi))
    assert log_vmf_normaliser(1e-8, 3) == pytest.approx(-np.log(4 * np.pi))


def test_log_normaliser_high_dimension_is_finite_and_decreasing() -> None:
    grid = np.geomspace(1e-3, 1e5, 60)
    values = np.array([log_vmf_normaliser(k, 768) for k in grid])
    assert np.isfinite(values).all()
    assert (np.diff(values) < 0).all()
    assert values[0] == pytest.approx(log_vmf_normaliser(0.0, 768), abs=1e-5)


def test_bessel_debye_branch_matches_mpmath() -> None:
    mpmath = pytest.importorskip("mpmath")
    for v, x in [(383.0, 1.0), (383.0, 20.0), (200.0, 0.5), (383.0, 300.0)]:
        exact = float(mpmath.log(mpmath.besseli(v, x)))
        assert _log_bessel_iv(v, x) == pytest.approx(exact, rel=1e-6)


@pytest.mark.parametrize(
    ("E", "kwargs", "message"),
    [
        (np.zeros((2, 3)), {}, "zero"),
        (np.zeros((0, 3)), {}, "non-empty"),
        (np.eye(2), {"distance": "euclid"}, "Unknown distance"),
        (np.eye(2), {"gate": "soft"}, "Unknown gate"),
    ],
)
def test_invalid_input(E: np.ndarray, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        merge_labels(E, **kwargs)
