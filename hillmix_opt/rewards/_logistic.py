"""LogisticRewardModel: logistic regression with user x action interaction terms."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import _fit_context
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import Interval

from ._base import _BaseRewardModel

__all__ = ["LogisticRewardModel"]


def _crossed(U, A):
    """``[u, a, vec(u a^T)]`` per row: main effects and every user x action product."""
    products = (U[:, :, None] * A[:, None, :]).reshape(len(U), -1)
    return np.hstack([U, A, products])


class LogisticRewardModel(_BaseRewardModel):
    """The baseline: logistic regression on users, actions and their products.

    ``logit P(click | u, a) = b + w_u . u + w_a . a + u^T W a``, with ``u``
    the standardised user features and ``a`` the action's embedding
    projected on the principal directions of the training actions
    (whitened). Without the bilinear term every user would get the same best
    action; with it, :meth:`predict_matrix` is a matrix product.

    Parameters
    ----------
    C : float, default=1.0
        Inverse strength of the L2 penalty (as in
        :class:`sklearn.linear_model.LogisticRegression`).
    pca_components : int or None, default=8
        Principal directions of the actions' embeddings kept; None keeps
        every direction the training actions span.
    action_features : "auto", int or list of str, default="auto"
        Which columns of ``X`` are the action's embedding: ``"auto"`` takes
        the columns named ``emb_*`` (as :func:`~hillmix_opt.reward_table`
        writes them) or, for X without such names, its last half; an int,
        that many last columns; a list, those columns.
    max_iter : int, default=1000
        Iterations of the L-BFGS solver.
    tol : float, default=1e-6
        Its tolerance.

    Attributes
    ----------
    coef_user_ : ndarray of shape (n_user_features,)
    coef_action_ : ndarray of shape (n_components,)
    coef_interaction_ : ndarray of shape (n_user_features, n_components)
    intercept_ : float
    classes_ : ndarray of shape (2,)
        ``[0, 1]``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X had string column names.
    n_user_features_, n_action_features_ : int
        The split of X's columns.

    See Also
    --------
    LightGBMRewardModel, NeuralRewardModel

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import LogisticRewardModel
    >>> rng = np.random.default_rng(0)
    >>> users, actions = rng.normal(size=(500, 3)), rng.normal(size=(20, 4))
    >>> a = rng.integers(20, size=500)
    >>> p = 1 / (1 + np.exp(-(users[:, 0] * actions[a, 0] - 1)))
    >>> X, y = np.hstack([users, actions[a]]), (rng.random(500) < p).astype(int)
    >>> model = LogisticRewardModel(action_features=4).fit(X, y)
    >>> model.predict_matrix(users[:2], actions).shape
    (2, 20)
    """

    _parameter_constraints: dict = {
        **_BaseRewardModel._parameter_constraints,
        "C": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        C: float = 1.0,
        pca_components: int | None = 8,
        action_features="auto",
        max_iter: int = 1000,
        tol: float = 1e-6,
    ):
        self.C = C
        self.pca_components = pca_components
        self.action_features = action_features
        self.max_iter = max_iter
        self.tol = tol

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the logistic regression on joined rows.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_rows, n_features)
            User features, then the action's embedding (see
            :func:`~hillmix_opt.reward_table`).
        y : array-like of shape (n_rows,)
            Clicks, 0 or 1, both present.
        sample_weight : array-like of shape (n_rows,), default=None

        Returns
        -------
        self : LogisticRewardModel
        """
        U, A, y, w = self._fit_rows(X, y, sample_weight)
        model = LogisticRegression(C=self.C, max_iter=self.max_iter, tol=self.tol)
        model.fit(_crossed(U, A), y, sample_weight=w)
        p, k = U.shape[1], A.shape[1]
        coef = model.coef_[0]
        self.coef_user_ = coef[:p]
        self.coef_action_ = coef[p : p + k]
        self.coef_interaction_ = coef[p + k :].reshape(p, k)
        self.intercept_ = float(model.intercept_[0])
        self.n_iter_ = int(np.max(model.n_iter_))
        return self

    def _row_logits(self, U, A):
        return (
            self.intercept_
            + U @ self.coef_user_
            + A @ self.coef_action_
            + np.einsum("ij,jk,ik->i", U, self.coef_interaction_, A)
        )

    def _matrix_logits(self, U, A):
        return (
            (U @ self.coef_interaction_) @ A.T
            + (U @ self.coef_user_)[:, None]
            + (A @ self.coef_action_)[None, :]
            + self.intercept_
        )
