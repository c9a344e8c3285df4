"""LightGBMRewardModel: gradient boosting on users and actions, on one machine or a dask cluster."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval
from tqdm.auto import tqdm

from hillmix.utils import resolve_seed

from ._base import _BaseRewardModel
from ._table import EMBEDDING_PREFIX
from ._tree_boxes import leaf_boxes

__all__ = ["LightGBMRewardModel"]


def _is_dask(X) -> bool:
    return type(X).__module__.split(".")[0] in {"dask", "dask_expr"}


class LightGBMRewardModel(_BaseRewardModel):
    """Gradient-boosted trees over the user's features and the action's projected embedding.

    Trees find the interactions between users and actions themselves. The
    boosting stops early when the log loss on a held-out share of the rows
    has not improved for ``early_stopping_rounds`` rounds, and the model of
    the best round is kept.

    Logs larger than one machine train through LightGBM's own dask interface
    (:class:`lightgbm.DaskLGBMClassifier`): pass a dask DataFrame of joined
    rows (with named ``emb_*`` columns) and a dask Series of clicks, with a
    ``dask.distributed`` client running. The preprocessing statistics (the
    users' scaling, the distinct actions' principal directions) are computed
    on the cluster; LightGBM's dask interface has no early stopping, so all
    ``n_estimators`` rounds are trained. The fitted model predicts locally.

    Parameters
    ----------
    n_estimators : int, default=500
        Boosting rounds at most.
    learning_rate : float, default=0.1
    num_leaves : int, default=31
        Leaves per tree.
    min_child_samples : int, default=50
        Rows a leaf needs at least.
    reg_lambda : float, default=1.0
        L2 penalty on leaf values.
    early_stopping_rounds : int or None, default=50
        Rounds without improvement of the held-out log loss before stopping;
        None trains every round on every row.
    validation_fraction : float, default=0.1
        Share of the rows held out for early stopping.
    pca_components : int or None, default=8
        Principal directions of the actions' embeddings kept.
    action_features : "auto", int or list of str, default="auto"
        Which columns of ``X`` are the action's embedding (see
        :class:`LogisticRewardModel`).
    n_jobs : int or None, default=None
        LightGBM's threads; None uses LightGBM's default (all cores). The
        model is the same whatever the number (LightGBM's deterministic mode).
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the held-out split and LightGBM.
    progress : bool, default=False
        A progress bar over boosting rounds.

    Attributes
    ----------
    booster_ : lightgbm.Booster
    n_estimators_ : int
        Rounds kept (the best round, with early stopping).
    classes_, n_features_in_, feature_names_in_, n_user_features_, n_action_features_
        As in :class:`LogisticRewardModel`.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import LightGBMRewardModel
    >>> rng = np.random.default_rng(0)
    >>> users, actions = rng.normal(size=(2000, 3)), rng.normal(size=(20, 4))
    >>> a = rng.integers(20, size=2000)
    >>> p = 1 / (1 + np.exp(-(2 * users[:, 0] * actions[a, 0] - 1)))
    >>> X, y = np.hstack([users, actions[a]]), (rng.random(2000) < p).astype(int)
    >>> model = LightGBMRewardModel(n_estimators=50, action_features=4, random_state=0)
    >>> model.fit(X, y).predict_matrix(users[:3], actions).shape
    (3, 20)
    """

    _parameter_constraints: dict = {
        **_BaseRewardModel._parameter_constraints,
        "n_estimators": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "num_leaves": [Interval(numbers.Integral, 2, None, closed="left")],
        "min_child_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "reg_lambda": [Interval(numbers.Real, 0, None, closed="left")],
        "early_stopping_rounds": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_jobs": [Interval(numbers.Integral, None, None, closed="neither"), None],
        "random_state": ["random_state", np.random.Generator],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        *,
        n_estimators: int = 500,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int | None = 50,
        validation_fraction: float = 0.1,
        pca_components: int | None = 8,
        action_features="auto",
        n_jobs: int | None = None,
        random_state=None,
        progress: bool = False,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.pca_components = pca_components
        self.action_features = action_features
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.progress = progress

    def _booster_params(self, seed: int) -> dict:
        """LightGBM's parameters (its own names, for ``lightgbm.train``)."""
        params = {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "lambda_l2": self.reg_lambda,
            # LightGBM's seeds are 32-bit signed: one derived from the 32-bit seed.
            "seed": int(np.random.SeedSequence(seed).generate_state(1)[0] >> 1),
            # The same trees whatever the number of threads.
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }
        if self.n_jobs is not None:
            params["num_threads"] = self.n_jobs
        return params

    def _callbacks(self):
        if not self.progress:
            return []
        bar = tqdm(total=self.n_estimators, desc="boosting", leave=False)

        def update(env):
            bar.update(1)
            if env.iteration + 1 == env.end_iteration:
                bar.close()

        return [update]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Boost trees on joined rows, holding out a share of them to stop early.

        Parameters
        ----------
        X : {array-like, DataFrame, dask DataFrame} of shape (n_rows, n_features)
            User features, then the action's embedding (see
            :func:`~hillmix_opt.reward_table`). A dask DataFrame trains on
            the dask cluster of the current client.
        y : array-like or dask Series of shape (n_rows,)
            Clicks, 0 or 1, both present.
        sample_weight : array-like of shape (n_rows,), default=None
            Not with dask input.

        Returns
        -------
        self : LightGBMRewardModel
        """
        import lightgbm

        seed = resolve_seed(self.random_state)
        if _is_dask(X):
            if sample_weight is not None:
                raise ValueError("sample_weight is not supported with dask input.")
            return self._fit_dask(X, y, seed)
        U, A, y, w = self._fit_rows(X, y, sample_weight)
        features = np.hstack([U, A])
        params = self._booster_params(seed)
        callbacks = self._callbacks()
        if self.early_stopping_rounds is None:
            train, valid = np.arange(len(y)), None
        else:
            train, valid = self._holdout(y, seed)
            callbacks.append(lightgbm.early_stopping(self.early_stopping_rounds, verbose=False))
        data = lightgbm.Dataset(
            features[train], y[train], weight=None if w is None else w[train], free_raw_data=True
        )
        valid_sets = []
        if valid is not None:
            valid_sets = [
                lightgbm.Dataset(
                    features[valid],
                    y[valid],
                    weight=None if w is None else w[valid],
                    reference=data,
                )
            ]
        booster = lightgbm.train(
            params,
            data,
            num_boost_round=self.n_estimators,
            valid_sets=valid_sets,
            callbacks=callbacks,
        )
        self._keep(booster, booster.best_iteration)
        return self

    def _holdout(self, y, seed):
        """Rows to train on and rows to stop early on; both classes in the training rows."""
        order = np.random.default_rng(seed).permutation(len(y))
        n_valid = round(self.validation_fraction * len(y))
        n_valid = min(max(n_valid, 1), len(y) - 2) if len(y) > 2 else 0
        valid, train = order[:n_valid], order[n_valid:]
        if n_valid == 0 or np.unique(y[train]).size < 2 or np.unique(y[valid]).size < 2:
            return order, order  # too few rows to split: stop early on the training rows
        return np.sort(train), np.sort(valid)

    def _keep(self, booster, best_iteration):
        self.n_estimators_ = int(best_iteration) if best_iteration else booster.current_iteration()
        self.booster_ = booster
        self._boxes = None

    def _fit_dask(self, X, y, seed):
        from lightgbm import DaskLGBMClassifier

        columns = list(X.columns)
        self._check_columns_for_dask(columns)
        user_idx, action_idx = self._split(len(columns), columns)
        users = [columns[i] for i in user_idx]
        actions = [columns[i] for i in action_idx]
        labels = np.unique(np.asarray(y.unique().compute()))
        self._check_labels(labels if labels.size else np.array([0]))
        mean = X[users].mean().compute().to_numpy(dtype=np.float64)
        scale = X[users].std(ddof=0).compute().to_numpy(dtype=np.float64)
        distinct = X[actions].drop_duplicates().compute().to_numpy(dtype=np.float64)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = len(columns)
        self.feature_names_in_ = np.asarray([str(c) for c in columns], dtype=object)
        self.user_columns_, self.action_columns_ = user_idx, action_idx
        self.n_user_features_, self.n_action_features_ = len(users), len(actions)
        self.user_mean_, self.user_scale_ = mean, np.where(scale > 0, scale, 1.0)
        self._fit_projection(distinct)

        def features(part: pd.DataFrame) -> pd.DataFrame:
            U = self._users(part[users].to_numpy(dtype=np.float64))
            A = self._actions(part[actions].to_numpy(dtype=np.float64))
            return pd.DataFrame(np.hstack([U, A]), index=part.index)

        meta = pd.DataFrame(
            np.zeros((0, len(users) + self.action_projection_.shape[1])), columns=None
        )
        transformed = X.map_partitions(features, meta=meta)
        params = self._booster_params(seed)
        model = DaskLGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=params.pop("learning_rate"),
            num_leaves=params.pop("num_leaves"),
            min_child_samples=params.pop("min_data_in_leaf"),
            reg_lambda=params.pop("lambda_l2"),
            random_state=params.pop("seed"),
            **{k: v for k, v in params.items() if k != "objective"},
        )
        model.fit(transformed, y.astype(int))
        local = model.to_local()
        self._keep(local.booster_, None)
        return self

    def _check_columns_for_dask(self, columns):
        named = any(str(c).startswith(EMBEDDING_PREFIX) for c in columns)
        if not named and self.action_features == "auto":
            raise ValueError(
                f"A dask DataFrame needs its action columns named {EMBEDDING_PREFIX}* (as "
                "reward_table names them), or action_features naming them."
            )

    def _row_logits(self, U, A):
        return self._raw(np.hstack([U, A]))

    def _raw(self, features):
        num_threads = 0 if self.n_jobs is None else self.n_jobs
        return self.booster_.predict(
            features, raw_score=True, num_iteration=self.n_estimators_, num_threads=num_threads
        )

    def _matrix_logits(self, U, A):
        # Each leaf is a user box times an action box: the ensemble over
        # users x actions is a matrix product (see _tree_boxes), built once.
        boxes = getattr(self, "_boxes", None)
        if boxes is None:
            boxes = self._boxes = leaf_boxes(self.booster_, U.shape[1], self.n_estimators_)
        return boxes.matrix(U, A)
