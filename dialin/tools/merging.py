r"""Post-correction: merge clusters whose names mean the same (paper §3.3).

Cluster names are embedded and L2-normalised (points on the unit sphere
S^{d-1}). A candidate edge joins names i, j when their distance is below
`theta`: geodesic d = arccos(e_i . e_j), or cosine d = 1 - e_i . e_j. Both are
monotone in e_i . e_j, so ``theta_cos = 1 - cos(theta_geo)`` gives the same
graph (`equivalent_cosine_theta`); the paper's theta = 0.8 is on the geodesic
scale (it equals ~0.303 in cosine distance).

Probabilistic gate (the paper does not fix it; this is our definition).
Mixture components are the complete-linkage groups of the names at `theta`
(every pair inside a group is closer than `theta`), so a chain of names, each
close to the next, is not one component. Component m has mean direction
mu_m = normalised mean of its members, uniform weight, and one shared
concentration kappa estimated with Banerjee et al. (2005)::

    r = sum_m ||sum_{i in m} e_i|| / sum_m |m|   (groups with >= 2 members)
    kappa = r (d - r^2) / (1 - r^2),  clipped to [KAPPA_MIN, KAPPA_MAX]
    f(x | mu, kappa) = C_d(kappa) exp(kappa mu^T x)
    C_d(kappa) = kappa^(d/2-1) / ((2 pi)^(d/2) I_(d/2-1)(kappa))
    P(m | x) = f(x | mu_m, kappa) / sum_l f(x | mu_l, kappa)
    p(i, j)  = sum_m P(m | e_i) P(m | e_j)

p(i, j) is the probability that e_i and e_j, drawn independently from the
fitted mixture, come from the same component. A candidate edge is kept when
p > `tau`; the merged groups are the connected components of the kept edges.
When there is no multi-member group (hence no candidate edge) kappa is None.
The deterministic gate keeps every candidate edge (probability 1.0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform
from scipy.special import gammaln, ive, logsumexp

from dialin.tools.vectors import l2_normalise

KAPPA_MIN = 1e-6
KAPPA_MAX = 1e6

Edge = tuple[int, int, float, float]


@dataclass(frozen=True)
class MergePlan:
    """Which clusters to merge, and why."""

    groups: list[list[int]]
    """Components of the kept edges: each sorted, singletons included, ordered by first member."""
    edges: list[Edge] = field(default_factory=list)
    """Kept edges as (i, j, distance, probability), i < j."""
    cut_edges: list[Edge] = field(default_factory=list)
    """Candidate edges (distance < theta) the gate rejected (probability <= tau)."""
    kappa: float | None = None
    """Shared vMF concentration; None if deterministic or without multi-member groups."""


def _normalise(E: np.ndarray) -> np.ndarray:
    E = np.asarray(E, dtype=np.float64)
    if E.ndim != 2 or E.shape[0] == 0:
        raise ValueError(f"E must be a non-empty 2-D array of embeddings; got shape {E.shape}.")
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    if not np.isfinite(E).all() or (norms == 0.0).any():
        raise ValueError("E has a zero, NaN or infinite row; every label needs a real embedding.")
    return l2_normalise(E)


def _cosines(E: np.ndarray) -> np.ndarray:
    En = _normalise(E)
    G = En @ En.T
    C = np.clip((G + G.T) / 2.0, -1.0, 1.0)
    np.fill_diagonal(C, 1.0)
    return C


def geodesic_distance(E: np.ndarray) -> np.ndarray:
    """Great-circle distances arccos(e_i . e_j) between L2-normalised rows, in [0, pi]."""
    return np.arccos(_cosines(E))


def cosine_distance(E: np.ndarray) -> np.ndarray:
    """Cosine distances 1 - e_i . e_j between L2-normalised rows, in [0, 2]."""
    return 1.0 - _cosines(E)


def equivalent_cosine_theta(theta_geodesic: float) -> float:
    """Cosine-distance threshold giving the same graph as a geodesic one."""
    return float(1.0 - np.cos(theta_geodesic))


def _log_bessel_iv(v: float, x: float) -> float:
    """log I_v(x) for x > 0 via ive; the uniform (Debye) expansion where ive underflows (v > 0)."""
    scaled = float(ive(v, x))
    if v <= 0.0 or (np.isfinite(scaled) and scaled > np.finfo(np.float64).tiny):
        return float(np.log(scaled) + x)
    z = x / v
    s = np.sqrt(1.0 + z * z)
    t = 1.0 / s
    eta = s + np.log(z / (1.0 + s))
    u1 = (3.0 * t - 5.0 * t**3) / 24.0
    return float(-0.5 * np.log(2.0 * np.pi * v) + v * eta - 0.5 * np.log(s) + np.log1p(u1 / v))


def log_vmf_normaliser(kappa: float, d: int) -> float:
    """log C_d(kappa), the vMF normalising constant on the unit sphere in R^d.

    Stable for large d and kappa (log space, exponentially scaled Bessel).
    At kappa = 0 it is minus the log surface area of the sphere.
    """
    if d < 1 or kappa < 0:
        raise ValueError(f"need d >= 1 and kappa >= 0; got d={d}, kappa={kappa}.")
    if kappa == 0.0:
        return float(gammaln(d / 2.0) - np.log(2.0) - (d / 2.0) * np.log(np.pi))
    v = d / 2.0 - 1.0
    log_iv = _log_bessel_iv(v, float(kappa))
    return float(v * np.log(kappa) - (d / 2.0) * np.log(2.0 * np.pi) - log_iv)


def estimate_kappa(En: np.ndarray, groups: list[list[int]]) -> float | None:
    """Banerjee et al. (2005) shared kappa from the groups with >= 2 members."""
    multi = [g for g in groups if len(g) >= 2]
    if not multi:
        return None
    d = En.shape[1]
    r = sum(float(np.linalg.norm(En[g].sum(axis=0))) for g in multi) / sum(len(g) for g in multi)
    r = min(r, 1.0)
    kappa = KAPPA_MAX if r >= 1.0 else r * (d - r * r) / (1.0 - r * r)
    return float(np.clip(kappa, KAPPA_MIN, KAPPA_MAX))


def vmf_posteriors(En: np.ndarray, groups: list[list[int]], kappa: float) -> np.ndarray:
    """P(m | e_i) under the uniform-weight, shared-kappa vMF mixture; shape (n, M)."""
    mus = np.stack([En[g].mean(axis=0) for g in groups])
    norms = np.linalg.norm(mus, axis=1, keepdims=True)
    mus = mus / np.where(norms > 0.0, norms, 1.0)
    # With a shared kappa and uniform weights C_d(kappa) cancels; kept for clarity.
    log_f = log_vmf_normaliser(kappa, En.shape[1]) + kappa * (En @ mus.T)
    return np.exp(log_f - logsumexp(log_f, axis=1, keepdims=True))


def _groups(labels: np.ndarray) -> list[list[int]]:
    """Rows sharing a label, each list sorted, ordered by first member."""
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(labels):
        groups.setdefault(int(c), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def _components(n: int, pairs: list[tuple[int, int]]) -> list[list[int]]:
    rows = [i for i, _ in pairs]
    cols = [j for _, j in pairs]
    graph = coo_matrix((np.ones(len(pairs)), (rows, cols)), shape=(n, n))
    return _groups(connected_components(graph, directed=False)[1])


def _complete_linkage_groups(D: np.ndarray, theta: float) -> list[list[int]]:
    """Groups in which every pair is closer than `theta` (complete linkage)."""
    if D.shape[0] == 1:
        return [[0]]
    Z = linkage(squareform(D, checks=False), method="complete")
    return _groups(fcluster(Z, t=np.nextafter(theta, -np.inf), criterion="distance"))


def merge_labels(
    E: np.ndarray,
    theta: float = 0.8,
    tau: float = 0.7,
    distance: Literal["geodesic", "cosine"] = "geodesic",
    gate: Literal["probabilistic", "deterministic"] = "probabilistic",
) -> MergePlan:
    """Group cluster names whose embeddings say the same thing.

    Parameters
    ----------
    E : np.ndarray
        Label embeddings, shape (n_labels, d); rows need not be normalised.
    theta : float
        Edge threshold on the chosen distance (edge when d < theta). For
        ``distance="cosine"`` pass ``equivalent_cosine_theta(0.8)`` to match the paper.
    tau : float
        Probabilistic gate: keep an edge when p(i, j) > tau.
    distance : {"geodesic", "cosine"}
        Distance between normalised label embeddings.
    gate : {"probabilistic", "deterministic"}
        vMF-mixture gate (see module docstring) or keep every candidate edge.

    Returns
    -------
    MergePlan
        Groups (each row exactly once), kept and cut edges, and kappa.
    """
    if distance not in ("geodesic", "cosine"):
        raise ValueError(f"Unknown distance {distance!r}; choose 'geodesic' or 'cosine'.")
    if gate not in ("probabilistic", "deterministic"):
        raise ValueError(f"Unknown gate {gate!r}; choose 'probabilistic' or 'deterministic'.")
    En = _normalise(E)
    D = geodesic_distance(En) if distance == "geodesic" else cosine_distance(En)
    n = En.shape[0]
    iu, ju = np.triu_indices(n, k=1)
    hit = D[iu, ju] < theta
    candidates = [(int(i), int(j)) for i, j in zip(iu[hit], ju[hit])]
    kappa: float | None = None
    probs = np.ones(len(candidates))
    if gate == "probabilistic" and candidates:
        mixture_groups = _complete_linkage_groups(D, theta)
        kappa = estimate_kappa(En, mixture_groups)
        if kappa is not None:
            post = vmf_posteriors(En, mixture_groups, kappa)
            probs = np.clip([float(post[i] @ post[j]) for i, j in candidates], 0.0, 1.0)
    kept: list[Edge] = []
    cut: list[Edge] = []
    for (i, j), p in zip(candidates, probs):
        edge = (i, j, float(D[i, j]), float(p))
        (kept if gate == "deterministic" or p > tau else cut).append(edge)
    groups = _components(n, [(i, j) for i, j, _, _ in kept])
    return MergePlan(groups=groups, edges=kept, cut_edges=cut, kappa=kappa)
