"""What every reward model shares: the split of joined rows, their features, the checks.

A reward model is a binary classifier of clicks over joined rows: a user's
features, then the embedding of the action sent (:func:`reward_table`
builds them from a log). It must score actions never sent, so it sees an
action only through its embedding, projected on the principal directions
of the distinct actions it was trained on (whitened, so every direction
counts the same whatever the embedder's scale). Users are standardised.

:meth:`predict_matrix` scores every user against every action. A model
whose form allows it (bilinear, two towers) does so by a matrix product;
the others score the cross join of users and actions in chunks of bounded
size.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._table import EMBEDDING_PREFIX

__all__: list[str] = []

# Joined rows scored at once by the chunked cross join: bounds its memory
# (a million rows of a few dozen features is a few hundred MB at most).
_MAX_ROWS = 2**18


def _as_embeddings(actions) -> np.ndarray:
    """Embeddings of ``actions``: an ActionBank, a DataFrame of ``emb_*`` columns, or an array."""
    if hasattr(actions, "embeddings"):
        actions = actions.embeddings
    elif isinstance(actions, pd.DataFrame):
        columns = [c for c in actions.columns if str(c).startswith(EMBEDDING_PREFIX)]
        actions = actions[columns] if columns else actions
    try:
        embeddings = np.asarray(actions, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            "actions must be an ActionBank, a DataFrame of embedding columns or an array of "
            "numbers of shape (n_actions, embedding_dim)."
        ) from None
    if embeddings.ndim != 2 or embeddings.shape[0] == 0:
        raise ValueError(
            f"actions must be 2-D, of shape (n_actions, embedding_dim) with at least one action; "
            f"got shape {embeddings.shape}."
        )
    if not np.all(np.isfinite(embeddings)):
        raise ValueError("actions' embeddings contain NaN or infinite values.")
    return embeddings


class _BaseRewardModel(ClassifierMixin, BaseEstimator):
    """P(click | user, action) from joined rows; subclasses supply the model.

    A subclass implements ``_fit_model(U, A, y, sample_weight, seed)`` on the
    standardised users ``U`` and projected actions ``A`` of the training
    rows, and ``_row_logits(U, A)``; it may override ``_matrix_logits(U, A)``
    (users x actions without the cross join) and, for uncertainty,
    ``_matrix_draws(U, A)``.
    """

    _parameter_constraints: dict = {
        "action_features": [
            Interval(numbers.Integral, 0, None, closed="left"),
            list,
            tuple,
            StrOptions({"auto"}),
        ],
        "pca_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    # Whether the model gives a predictive standard deviation.
    _has_uncertainty = False

    # ------------------------------------------------------------------ fit
    def _fit_rows(self, X, y, sample_weight=None):
        """Validate and split the training rows; fit the preprocessing. Returns U, A, y, w."""
        columns = list(X.columns) if isinstance(X, pd.DataFrame) else None
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        y = self._check_labels(y)
        user_idx, action_idx = self._split(X.shape[1], columns)
        U_raw, E = X[:, user_idx], X[:, action_idx]
        w = None if sample_weight is None else _check_sample_weight(sample_weight, X)
        self.classes_ = np.array([0, 1])
        self.user_columns_ = user_idx
        self.action_columns_ = action_idx
        self.n_user_features_ = int(user_idx.size)
        self.n_action_features_ = int(action_idx.size)
        # Weighted, so that a weight of two is a row repeated.
        self.user_mean_ = np.average(U_raw, axis=0, weights=w)
        scale = np.sqrt(np.average((U_raw - self.user_mean_) ** 2, axis=0, weights=w))
        self.user_scale_ = np.where(scale > 0, scale, 1.0)
        # Rows of weight zero are not in the data: their actions do not shape the projection.
        self._fit_projection(E if w is None else E[w > 0])
        return self._users(U_raw), self._actions(E), y, w

    def _check_labels(self, y) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D, one click (0 or 1) per row; got shape {y.shape}.")
        try:
            values = np.unique(y.astype(np.float64))
        except (TypeError, ValueError):
            raise ValueError(
                f"y must hold clicks, 0 or 1; got labels {np.unique(y)[:5].tolist()}."
            ) from None
        if values.size > 2:
            raise ValueError(
                "Only binary classification is supported: y must hold clicks, 0 or 1; got "
                f"{values.size} labels {values[:5].tolist()}."
            )
        if not np.isin(values, (0.0, 1.0)).all():
            raise ValueError(
                f"y must hold clicks, 0 or 1; got labels {values.tolist()}. A reward model "
                "learns P(click): map another binary outcome to 0 and 1 first."
            )
        if values.size < 2:
            only = "no clicks at all" if values[0] == 0 else "only clicks"
            raise ValueError(
                f"y has one class only ({only}): a reward model needs both clicks and "
                "non-clicks to learn from. Collect a longer log (at low click rates, a few "
                "thousand decisions hold a click)."
            )
        return y.astype(np.float64)

    def _split(self, n_features, columns):
        """Positions of the user and the action columns of the joined rows."""
        spec = self.action_features
        if isinstance(spec, str):  # "auto"
            named = (
                [i for i, c in enumerate(columns) if str(c).startswith(EMBEDDING_PREFIX)]
                if columns is not None
                else []
            )
            # Without named embedding columns: the last half of the columns.
            action = np.asarray(named) if named else np.arange(n_features // 2, n_features)
        elif isinstance(spec, numbers.Integral):
            if spec > n_features:
                raise ValueError(f"action_features={spec}, but X has {n_features} columns.")
            action = np.arange(n_features - spec, n_features)
        else:
            if columns is None:
                raise ValueError(
                    "action_features names columns, but X has no column names; pass a "
                    "DataFrame or the number of action columns."
                )
            absent = [c for c in spec if c not in columns]
            if absent:
                raise ValueError(f"action_features names columns not in X: {absent}.")
            action = np.asarray([columns.index(c) for c in spec])
        action = np.asarray(action, dtype=int)
        user = np.setdiff1d(np.arange(n_features), action)
        return user, action

    def _fit_projection(self, E):
        """PCA of the distinct actions' embeddings, whitened over them."""
        distinct = np.unique(E, axis=0) if E.shape[1] else E[:1]
        self.n_distinct_actions_ = len(distinct)
        if E.shape[1] == 0:
            self.action_mean_ = np.zeros(0)
            self.action_projection_ = np.zeros((0, 0))
            return
        self.action_mean_ = distinct.mean(axis=0)
        centred = distinct - self.action_mean_
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        spread = s / np.sqrt(max(len(distinct) - 1, 1))
        keep = spread > 1e-9 * (spread[0] if spread.size else 1.0)
        limit = self.pca_components if self.pca_components is not None else E.shape[1]
        k = int(min(limit, keep.sum()))
        components = vt[:k]
        # Deterministic signs: each component's largest loading positive.
        signs = np.sign(components[np.arange(k), np.argmax(np.abs(components), axis=1)])
        components = components * np.where(signs == 0, 1.0, signs)[:, None]
        self.action_projection_ = components.T / spread[:k]

    # ------------------------------------------------------------ features
    def _users(self, U_raw):
        return (U_raw - self.user_mean_) / self.user_scale_

    def _actions(self, E):
        return (E - self.action_mean_) @ self.action_projection_

    def _check_rows(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self._users(X[:, self.user_columns_]), self._actions(X[:, self.action_columns_])

    def _check_matrix_inputs(self, users, actions):
        check_is_fitted(self)
        names = getattr(self, "feature_names_in_", None)
        if isinstance(users, pd.DataFrame) and names is not None:
            wanted = [str(c) for c in names[self.user_columns_]]
            missing = [c for c in wanted if c not in users.columns]
            if missing:
                raise ValueError(f"users lacks the user feature columns {missing}.")
            users = users[wanted]
        try:
            U = np.asarray(users, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError("users must be a DataFrame or an array of numbers.") from None
        if U.ndim != 2 or U.shape[1] != self.n_user_features_:
            raise ValueError(
                f"users must have shape (n_users, {self.n_user_features_}), the user features "
                f"the model was fitted on; got shape {U.shape}."
            )
        if not np.all(np.isfinite(U)):
            raise ValueError("users contain NaN or infinite values.")
        E = _as_embeddings(actions)
        if E.shape[1] != self.n_action_features_:
            raise ValueError(
                f"actions have embeddings of dimension {E.shape[1]}; the model was fitted on "
                f"dimension {self.n_action_features_}: embed them with the same embedder."
            )
        return self._users(U), self._actions(E)

    # ------------------------------------------------------------ predict
    def decision_function(self, X) -> np.ndarray:
        """The log-odds of a click for each joined row.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_rows, n_features)
            Joined rows, with the columns of fit.

        Returns
        -------
        logits : ndarray of shape (n_rows,)
        """
        U, A = self._check_rows(X)
        return np.asarray(self._row_logits(U, A), dtype=np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """P(no click) and P(click) for each joined row.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_rows, n_features)
            Joined rows, with the columns of fit.

        Returns
        -------
        proba : ndarray of shape (n_rows, 2)
        """
        p = _sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        """1 where a click is more likely than not, else 0.

        Clicks are rare; :meth:`predict_proba` is what a reward model is for.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_rows, n_features)

        Returns
        -------
        clicks : ndarray of int of shape (n_rows,)
        """
        return (self.decision_function(X) > 0).astype(int)

    def score(self, X, y, sample_weight=None) -> float:
        """The mean log-likelihood of the clicks: minus the log loss.

        Not accuracy, as for other classifiers: at click rates of a few
        percent, predicting "no click" everywhere is accurate and useless.
        The log-likelihood rewards calibrated probabilities, so
        ``GridSearchCV`` without a ``scoring`` argument selects by it.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_rows, n_features)
        y : array-like of shape (n_rows,)
            Clicks, 0 or 1.
        sample_weight : array-like of shape (n_rows,), default=None

        Returns
        -------
        score : float
        """
        from sklearn.metrics import log_loss

        return -log_loss(y, self.predict_proba(X)[:, 1], sample_weight=sample_weight, labels=[0, 1])

    def predict_matrix(self, users, actions, *, return_std: bool = False):
        """P(click) of every user for every action, without building the cross join if it can.

        Parameters
        ----------
        users : {array-like, DataFrame} of shape (n_users, n_user_features)
            The user features of fit (by name, for a DataFrame).
        actions : ActionBank, DataFrame or array-like of shape (n_actions, embedding_dim)
            The actions' embeddings, by the embedder of the training log.
        return_std : bool, default=False
            Also return the predictive standard deviation of each
            probability (models with uncertainty only).

        Returns
        -------
        proba : ndarray of shape (n_users, n_actions)
        std : ndarray of shape (n_users, n_actions)
            Only when ``return_std=True``.
        """
        U, A = self._check_matrix_inputs(users, actions)
        if return_std:
            if not self._has_uncertainty:
                raise ValueError(
                    f"{type(self).__name__} gives no predictive standard deviation; "
                    "BayesianNeuralRewardModel and GaussianProcessRewardModel do."
                )
            return self._matrix_mean_std(U, A)
        return _sigmoid(self._matrix_logits(U, A))

    def predict_interval(self, users, actions, coverage: float = 0.9):
        """An equal-tailed interval for the true P(click) of every user and action.

        Models with uncertainty only.

        Parameters
        ----------
        users, actions
            As for :meth:`predict_matrix`.
        coverage : float, default=0.9

        Returns
        -------
        lower, upper : ndarray of shape (n_users, n_actions)
        """
        if not self._has_uncertainty:
            raise ValueError(f"{type(self).__name__} gives no predictive interval.")
        if not isinstance(coverage, numbers.Real) or not 0 < coverage < 1:
            raise ValueError(f"coverage must be a number in (0, 1), got {coverage!r}.")
        U, A = self._check_matrix_inputs(users, actions)
        return self._matrix_interval(U, A, float(coverage))

    def _matrix_logits(self, U, A):
        """Users x actions log-odds through the cross join, in chunks of bounded size."""
        n_users, n_actions = len(U), len(A)
        out = np.empty((n_users, n_actions))
        step = max(1, _MAX_ROWS // n_actions)
        for start in range(0, n_users, step):
            part = U[start : start + step]
            rows_u = np.repeat(part, n_actions, axis=0)
            rows_a = np.tile(A, (len(part), 1))
            out[start : start + len(part)] = np.asarray(self._row_logits(rows_u, rows_a)).reshape(
                len(part), n_actions
            )
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _expected_failed_checks(self) -> dict[str, str]:
        """scikit-learn checks this estimator fails by design, with the reason."""
        labels = (
            "a reward model learns P(click): its labels are clicks, 0 or 1, and the check's "
            "other labels (1 and 2, strings, -1 and 1) are refused rather than mapped"
        )
        return dict.fromkeys(
            (
                "check_classifiers_classes",
                "check_classifiers_regression_target",
                "check_estimators_dtypes",
                "check_sample_weights_pandas_series",
                "check_sample_weights_not_an_array",
                "check_sample_weights_shape",
                "check_sample_weights_not_overwritten",
                "check_classifier_data_not_an_array",
                "check_fit2d_1feature",
            ),
            labels,
        )


def _sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _logit(p):
    """The log-odds of probabilities, clipped off 0 and 1."""
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)
