"""A tree ensemble over users and actions as a sum of products: users x actions by matrix products.

Each leaf of a tree is a box: the user's features satisfy its path's
conditions on user features, and the action's those on action features.
So a leaf's contribution to the users x actions matrix is its value times
the outer product of a user indicator and an action indicator, and a whole
ensemble's raw score is ``(I_user * values) @ I_action.T`` over all its
leaves: a matrix product, with no cross join of users and actions built.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = ["LeafBoxes", "leaf_boxes"]


class LeafBoxes:
    """The leaves of a boosted ensemble as boxes, split into their user and action conditions.

    Attributes
    ----------
    values : ndarray of shape (n_leaves,)
    user_conditions, action_conditions : (features, thresholds, left, leaves)
        One entry per condition on a leaf's path, grouped by leaf: the
        feature it reads (a column of the user or of the action block), the
        threshold, whether the path goes left (``x <= threshold``), and the
        leaf it belongs to.
    """

    def __init__(self, values, user_conditions, action_conditions):
        self.values = values
        self.sides = {
            True: _Side(*user_conditions, len(values)),
            False: _Side(*action_conditions, len(values)),
        }

    @property
    def n_leaves(self) -> int:
        return len(self.values)

    def indicators(self, X: np.ndarray, user: bool) -> np.ndarray:
        """For each row of ``X`` (users or actions) and leaf: does the row satisfy its box side."""
        return self.sides[user].inside(X, self.n_leaves)

    def matrix(self, U: np.ndarray, A: np.ndarray, chunk: int = 1024) -> np.ndarray:
        """The ensemble's raw score of every user (rows of ``U``) for every action."""
        in_action = self.indicators(A, user=False)
        # Leaves whose action sides agree on every action add up before the
        # product: fewer columns, the same sums. The merge is a sparse
        # matrix, leaf -> group, carrying each leaf's value.
        packed = np.packbits(in_action, axis=0)
        _, first, group = np.unique(packed, axis=1, return_index=True, return_inverse=True)
        merge = sparse.csr_array(
            (self.values, (np.arange(self.n_leaves), group.ravel())),
            shape=(self.n_leaves, len(first)),
        )
        columns = in_action[:, first].astype(np.float64).T
        out = np.empty((len(U), len(A)))
        for start in range(0, len(U), chunk):
            in_user = self.indicators(U[start : start + chunk], user=True)
            out[start : start + chunk] = (merge.T @ in_user.T.astype(np.float64)).T @ columns
        return out


class _Side:
    """The conditions of the leaves' paths on one side (user or action), ready to test.

    A leaf's side holds when each of its conditions does: when ``x <=
    threshold`` for every left turn and not for every right one. With ``c``
    the distinct comparisons as 0 or 1, the number of left turns that hold
    minus the right turns that (wrongly) hold is ``D @ c`` for a sparse
    matrix ``D`` of +1 (left) and -1 (right) per leaf and comparison, and
    the side holds exactly when that equals the leaf's number of left turns.
    """

    def __init__(self, features, thresholds, left, leaves, n_leaves):
        pairs = np.stack([features.astype(np.float64), thresholds], axis=1)
        unique, which = (
            np.unique(pairs, axis=0, return_inverse=True) if len(pairs) else (pairs, features)
        )
        self.features = unique[:, 0].astype(np.intp)
        self.thresholds = unique[:, 1]
        sign = np.where(left, 1.0, -1.0).astype(np.float32)
        self.turns = sparse.csr_array(
            (sign, (leaves, np.ravel(which))), shape=(n_leaves, len(unique)), dtype=np.float32
        )
        self.n_left = np.bincount(leaves[left], minlength=n_leaves).astype(np.float32)

    def inside(self, X, n_leaves):
        if not len(self.features):
            return np.ones((len(X), n_leaves), dtype=bool)
        compared = (X[:, self.features] <= self.thresholds).astype(np.float32)
        return self.n_left == (self.turns @ compared.T).T


def leaf_boxes(booster, n_user_features: int, num_iteration: int | None = None) -> LeafBoxes:
    """The leaves of a LightGBM booster's first ``num_iteration`` trees as boxes.

    Parameters
    ----------
    booster : lightgbm.Booster
        Trained on numeric features, user features first.
    n_user_features : int
        Features ``0 .. n_user_features - 1`` are the user's; the rest the
        action's (numbered from 0 in the action block).
    num_iteration : int, default=None
        Trees kept; all when None.

    Returns
    -------
    boxes : LeafBoxes
    """
    trees = booster.dump_model(num_iteration=num_iteration or -1)["tree_info"]
    values = []
    sides = {True: ([], [], [], []), False: ([], [], [], [])}

    def walk(node, path):
        if "leaf_value" in node:
            leaf = len(values)
            values.append(node["leaf_value"])
            for feature, threshold, left in path:
                user = feature < n_user_features
                block = sides[user]
                block[0].append(feature if user else feature - n_user_features)
                block[1].append(threshold)
                block[2].append(left)
                block[3].append(leaf)
            return
        if node["decision_type"] != "<=":
            raise ValueError(f"unsupported split {node['decision_type']!r}: numeric splits only")
        split = (node["split_feature"], node["threshold"])
        walk(node["left_child"], [*path, (*split, True)])
        walk(node["right_child"], [*path, (*split, False)])

    for tree in trees:
        walk(tree["tree_structure"], [])

    def arrays(block):
        features, thresholds, left, leaves = block
        return (
            np.asarray(features, dtype=np.intp),
            np.asarray(thresholds, dtype=np.float64),
            np.asarray(left, dtype=bool),
            np.asarray(leaves, dtype=np.intp),
        )

    return LeafBoxes(
        np.asarray(values, dtype=np.float64), arrays(sides[True]), arrays(sides[False])
    )
