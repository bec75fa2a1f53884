"""Shared machinery of fastml's histogram trees and ensembles.

* ``Tree``: one fitted tree as a flat array of nodes (``NODE_DTYPE``, mirrored
  from ``fml_tree_node`` in csrc/trees/trees.h; the right child of node i is
  ``left + 1``), with scikit-learn-like views (``children_left``, ``feature``,
  ``threshold``, ``value``, ...).
* ``Forest``: trees concatenated for one C prediction call (rows in blocks,
  every tree per block, rows summed in tree order: identical for any thread
  count).
* Input checks used by every estimator here (NaN allowed in X; inf, NaN in y,
  bad sample weights rejected), cost-complexity pruning.
"""
import numbers

import numpy as np
from sklearn.utils.validation import _check_sample_weight, validate_data

from fastml._config import register_simd_module
from fastml._lib import _trees

register_simd_module(_trees)

NODE_DTYPE = _trees.NODE_DTYPE
MAX_ROWS = 2**31 - 1     # row indices are int32 in C


def check_X_fit(est, X, y, **kw):
    """X (float32/float64, NaN allowed, no inf) and y for fit."""
    _reject_sparse(X)
    X, y = validate_data(est, X, y, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan",
                         **kw)
    _reject_inf(X)
    if X.shape[0] > MAX_ROWS:
        raise ValueError(f"X has {X.shape[0]} rows; at most {MAX_ROWS} are supported")
    return X, y


def check_X_predict(est, X):
    _reject_sparse(X)
    X = validate_data(est, X, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan",
                      reset=False)
    _reject_inf(X)
    return X


def _reject_sparse(X):
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError("fastml trees do not accept sparse input; convert it with X.toarray()")


def _reject_inf(X):
    if X.size and np.isinf(X).any():
        raise ValueError("X contains infinity; fastml trees accept NaN (missing) but not inf")


def check_sample_weight(sample_weight, X):
    """float64 weights >= 0 with a positive sum, or None when all are one."""
    if sample_weight is None:
        return None
    w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if not np.isfinite(w).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if w.sum() <= 0:
        raise ValueError("sample_weight must have a positive sum")
    return np.ascontiguousarray(w)


def seed_of(random_state):
    """A 63-bit seed drawn from a scikit-learn random_state."""
    from sklearn.utils import check_random_state
    return int(check_random_state(random_state).randint(0, 2**62, dtype=np.int64))


def max_features_count(max_features, n_features):
    """Features per node for scikit-learn's max_features (None, 'sqrt', 'log2', int, float)."""
    if max_features is None:
        return n_features
    if isinstance(max_features, str):
        if max_features == "sqrt":
            return max(1, int(np.sqrt(n_features)))
        if max_features == "log2":
            return max(1, int(np.log2(n_features)))
        raise ValueError(f"max_features must be None, 'sqrt', 'log2', an int or a float, got {max_features!r}")
    if isinstance(max_features, numbers.Integral):
        return max(1, min(int(max_features), n_features))
    return max(1, min(n_features, int(max_features * n_features)))


class Tree:
    """One fitted tree: ``nodes`` (NODE_DTYPE) and, for classifiers, ``value``
    (n_nodes x n_classes class proportions); regressors and boosting trees keep
    their prediction in ``nodes['value']``."""

    def __init__(self, nodes, value=None):
        self.nodes = nodes
        self._value = value

    @property
    def node_count(self):
        return len(self.nodes)

    @property
    def children_left(self):
        left = self.nodes["left"].astype(np.int64)
        return np.where(self.nodes["feature"] >= 0, left, -1)

    @property
    def children_right(self):
        left = self.nodes["left"].astype(np.int64)
        return np.where(self.nodes["feature"] >= 0, left + 1, -1)

    @property
    def feature(self):
        f = self.nodes["feature"].astype(np.int64)
        return np.where(f >= 0, f, -2)

    @property
    def threshold(self):
        return np.where(self.nodes["feature"] >= 0, self.nodes["threshold"], -2.0)

    @property
    def missing_go_to_left(self):
        return self.nodes["missing_left"].astype(bool)

    @property
    def n_node_samples(self):
        return self.nodes["count"].copy()

    @property
    def weighted_n_node_samples(self):
        return self.nodes["weight"].copy()

    @property
    def value(self):
        if self._value is not None:
            return self._value[:, None, :]
        return self.nodes["value"][:, None, None]

    @property
    def max_depth(self):
        return int(self.nodes["depth"].max()) if len(self.nodes) else 0

    @property
    def n_leaves(self):
        return int((self.nodes["feature"] < 0).sum())

    def is_leaf(self):
        return self.nodes["feature"] < 0


class Forest:
    """Trees concatenated for prediction: ``nodes``, ``offsets`` (n_trees + 1)
    and, for class proportions, ``values`` (n_nodes_total x n_out)."""

    def __init__(self, trees, with_values):
        self.n_trees = len(trees)
        sizes = [len(t.nodes) for t in trees]
        self.offsets = np.zeros(self.n_trees + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.offsets[1:])
        self.nodes = np.concatenate([t.nodes for t in trees]) if trees else np.empty(0, NODE_DTYPE)
        self.values = (np.ascontiguousarray(np.concatenate([t._value for t in trees]))
                       if with_values and trees else None)

    def add_raw(self, X, out, n_out, scale, n_threads, start=0, stop=None):
        """out (n x n_out) += scale * leaf values of trees [start, stop) (tree t -> column t % n_out)."""
        stop = self.n_trees if stop is None else stop
        if X.shape[0] == 0 or stop <= start:
            return out
        offs = np.ascontiguousarray(self.offsets[start:stop + 1])
        _trees.predict(self.nodes, offs, None, n_out, scale, X, out, n_threads)
        return out

    def add_values(self, X, out, scale, n_threads):
        """out (n x K) += scale * per-tree leaf value vectors, summed over trees."""
        if X.shape[0] == 0 or self.n_trees == 0:
            return out
        _trees.predict(self.nodes, self.offsets, self.values, out.shape[1], scale, X, out, n_threads)
        return out

    def apply(self, X, n_threads):
        leaves = np.empty((X.shape[0], self.n_trees), dtype=np.int32)
        if X.shape[0] and self.n_trees:
            _trees.apply(self.nodes, self.offsets, X, leaves, n_threads)
        return leaves


def compact_tree(nodes, value, keep_leaf):
    """Tree without the subtrees below nodes marked keep_leaf (they become leaves);
    nodes renumbered in the same (parent-before-children, siblings adjacent) order."""
    n = len(nodes)
    new_id = np.full(n, -1, dtype=np.int64)
    order = []
    # breadth-first from the root keeps right == left + 1
    queue = [0]
    new_id[0] = 0
    order.append(0)
    head = 0
    while head < len(queue):
        i = queue[head]
        head += 1
        if nodes["feature"][i] >= 0 and not keep_leaf[i]:
            left = int(nodes["left"][i])
            for c in (left, left + 1):
                new_id[c] = len(order)
                order.append(c)
                queue.append(c)
    order = np.asarray(order, dtype=np.int64)
    out = nodes[order].copy()
    for j, i in enumerate(order):
        if out["feature"][j] >= 0 and not keep_leaf[i]:
            out["left"][j] = new_id[int(nodes["left"][i])]
        else:
            out["feature"][j] = -1
            out["left"][j] = -1
            out["gain"][j] = 0.0
            out["threshold"][j] = 0.0
    return out, (value[order] if value is not None else None)


def ccp_prune(nodes, value, ccp_alpha, total_weight):
    """Minimal cost-complexity pruning (Breiman et al.): the smallest subtree T
    minimising R(T) + ccp_alpha * leaves(T), R scaled by the total weight as
    scikit-learn does.  This is the tree that weakest-link pruning (collapse the
    node with the least g(t) = (R(t) - R(T_t)) / (leaves(T_t) - 1) while
    g(t) <= ccp_alpha) ends at, found in one bottom-up pass: with D(t) the best
    cost of t's subtree minus R(t) as a leaf,
        D(leaf) = alpha,   D(t) = min(alpha, D(left) + D(right) - gain(t)),
    where gain(t) = R(t) - R(left) - R(right) is the node's weighted impurity
    decrease; t becomes a leaf when alpha <= D(left) + D(right) - gain(t)."""
    feat = nodes["feature"]
    left = nodes["left"].astype(np.int64)
    gain = nodes["gain"] / total_weight
    depth = nodes["depth"]
    D = np.full(len(nodes), float(ccp_alpha))
    collapse = np.zeros(len(nodes), dtype=bool)
    for d in range(int(depth.max()) if len(nodes) else 0, -1, -1):     # children first
        idx = np.flatnonzero((depth == d) & (feat >= 0))
        if idx.size == 0:
            continue
        split = D[left[idx]] + D[left[idx] + 1] - gain[idx]
        collapse[idx] = ccp_alpha <= split + 1e-15 * np.maximum(np.abs(split), 1.0)
        D[idx] = np.minimum(ccp_alpha, split)
    if not collapse.any():
        return nodes, value
    return compact_tree(nodes, value, collapse)
