"""Cluster sentence embeddings into K groups (step 1 of Algorithm 1).

All methods work on L2-normalised rows (cosine geometry, as for sentence
embeddings); zero rows are left as they are. Labels are renumbered in order
of first appearance, so the same partition always gets the same labels.
"""

from __future__ import annotations

import warnings
from typing import Literal, get_args

import numpy as np

from dialin.tools.vectors import l2_normalise

ClusterMethod = Literal["kmeans", "agglomerative", "gmm", "graph"]

CLUSTER_METHODS: tuple[ClusterMethod, ...] = get_args(ClusterMethod)
"""The clustering methods `cluster` accepts (the config's ``method.clustering`` is a ``ClusterMethod``)."""


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Map labels to 0..k'-1 in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.ravel()]


def _validate(X: np.ndarray, k: int) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features); got shape {X.shape}.")
    if X.shape[0] == 0:
        raise ValueError("X is empty: there is nothing to cluster.")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinite values; clean the embeddings first.")
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k must be an integer >= 1; got {k!r}.")
    return X


def cluster(
    X: np.ndarray,
    k: int,
    method: ClusterMethod = "agglomerative",
    seed: int = 0,
) -> np.ndarray:
    """Partition the rows of `X` into at most `k` clusters.

    Parameters
    ----------
    X : np.ndarray
        Embeddings, shape (n, d); rows are L2-normalised before clustering.
    k : int
        Number of clusters; clipped to n.
    method : {"kmeans", "agglomerative", "gmm", "graph"}
        Ward-linkage agglomerative (default, best in the paper), K-means
        (``n_init=3``), a diagonal-covariance Gaussian mixture, or Louvain
        communities of the kNN graph (``dialin.tools.graph_clusters``; about
        `k` clusters, within 2%, not at most `k`).
    seed : int
        Random state for K-means, GMM and Louvain (agglomerative is deterministic).

    Returns
    -------
    np.ndarray
        Integer labels of shape (n,), values 0..k'-1 with k' <= k, numbered in
        order of first appearance.

    Raises
    ------
    ValueError
        If `X` is empty or not 2-D, `k` < 1, or `method` is unknown.
    """
    X = _validate(X, k)
    if method not in CLUSTER_METHODS:
        raise ValueError(f"Unknown clustering method {method!r}; choose one of {CLUSTER_METHODS}.")
    n = X.shape[0]
    k = min(int(k), n)
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    if k == n:
        return np.arange(n, dtype=np.int64)
    Xn = l2_normalise(X)
    with warnings.catch_warnings():
        # Fewer distinct points than k is legitimate here (duplicates); the
        # labels simply use fewer clusters.
        warnings.simplefilter("ignore", category=UserWarning)
        if method == "agglomerative":
            from sklearn.cluster import AgglomerativeClustering

            labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(Xn)
        elif method == "graph":
            from dialin.tools.graph_clusters import graph_cluster

            labels = graph_cluster(Xn, k, seed=seed)
        elif method == "kmeans":
            from sklearn.cluster import KMeans

            labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(Xn)
        else:
            from sklearn.mixture import GaussianMixture

            gmm = GaussianMixture(
                n_components=k, covariance_type="diag", random_state=seed, reg_covar=1e-6
            )
            labels = gmm.fit(Xn).predict(Xn)
    return _renumber(np.asarray(labels))


def groups(labels: np.ndarray) -> list[np.ndarray]:
    """Positions of each label's members, labels in ascending order (one stable argsort: O(n log n), not O(n K))."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return []
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    return np.split(order, cuts)
