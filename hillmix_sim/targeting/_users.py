"""Users of a simulated company: eight meaningful, correlated features."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from hillmix.utils import resolve_seed
from hillmix.utils._expected_failures import NO_DATA_CHECKS

__all__ = ["USER_FEATURES", "USER_SCORE_COLUMNS", "UserGenerator", "user_matrix"]

#: The user features, in the order of every feature matrix.
USER_FEATURES = (
    "age",
    "income",
    "tenure",
    "engagement",
    "mobile_share",
    "region",
    "recency",
    "purchase_frequency",
)

#: Columns of the logs holding the users' normal scores (:func:`user_matrix`),
#: the features strategies see; warm-start a strategy from a log with
#: ``strategy.fit(log, feature_columns=USER_SCORE_COLUMNS)``.
USER_SCORE_COLUMNS = tuple(f"z_{name}" for name in USER_FEATURES)

# Correlations of the Gaussian copula, in USER_FEATURES order. Older users
# earn more, have been customers longer and use mobile less; engaged users
# bought recently and buy often.
_CORRELATION = np.array(
    [
        # age  inc   ten   eng   mob   reg   rec   freq
        [1.00, 0.40, 0.35, 0.00, -0.45, 0.00, 0.05, 0.05],
        [0.40, 1.00, 0.20, 0.05, -0.10, 0.10, 0.00, 0.20],
        [0.35, 0.20, 1.00, 0.30, -0.10, 0.00, -0.15, 0.25],
        [0.00, 0.05, 0.30, 1.00, 0.15, 0.00, -0.50, 0.55],
        [-0.45, -0.10, -0.10, 0.15, 1.00, 0.05, -0.05, 0.10],
        [0.00, 0.10, 0.00, 0.00, 0.05, 1.00, 0.00, 0.00],
        [0.05, 0.00, -0.15, -0.50, -0.05, 0.00, 1.00, -0.50],
        [0.05, 0.20, 0.25, 0.55, 0.10, 0.00, -0.50, 1.00],
    ]
)
_REGION_SHARES = np.array([0.30, 0.25, 0.20, 0.15, 0.10])

# User ids are ``iteration * _IDS_PER_ITERATION + i``: unique across
# iterations while a population has at most that many users, and int64
# while the iteration is at most _MAX_ITERATION.
_IDS_PER_ITERATION = 10**9
_MAX_ITERATION = (np.iinfo(np.int64).max - _IDS_PER_ITERATION + 1) // _IDS_PER_ITERATION

# Each feature's marginal: a frozen scipy distribution on its natural scale
# (age in years, income per year, tenure in years, engagement and mobile
# share in [0, 1], recency in days since the last purchase, purchases per
# month).
_MARGINALS = {
    "age": stats.beta(2.2, 3.5, loc=18.0, scale=67.0),
    "income": stats.lognorm(0.55, scale=55_000.0),
    "tenure": stats.gamma(1.6, scale=2.2),
    "engagement": stats.beta(2.0, 5.0),
    "mobile_share": stats.beta(3.0, 2.0),
    "recency": stats.gamma(1.2, scale=25.0),
    "purchase_frequency": stats.gamma(2.0, scale=1.2),
}


def _region_from_normal(z):
    edges = stats.norm.ppf(np.cumsum(_REGION_SHARES)[:-1])
    return np.searchsorted(edges, z)


def _region_to_normal(region):
    # The normal score of the middle of each region's band of the copula.
    upper = np.cumsum(_REGION_SHARES)
    middle = stats.norm.ppf(upper - _REGION_SHARES / 2)
    return middle[np.asarray(region, dtype=np.int64)]


def user_matrix(users) -> np.ndarray:
    """Standardised user features: each feature's normal score.

    Every feature is mapped through its marginal distribution function and
    the standard normal quantile, so each continuous column is standard
    normal over the population and the copula's correlations carry over;
    ``region`` takes the normal score of the middle of its band (five
    values, mean about 0, standard deviation about 0.9). Ground truths and
    strategies use this matrix; it is a fixed function of each user, so it
    does not depend on the rest of the batch.

    Parameters
    ----------
    users : pandas.DataFrame
        Must contain the columns in :data:`USER_FEATURES`.

    Returns
    -------
    Z : ndarray of shape (n_users, 8)

    Examples
    --------
    >>> from hillmix_sim import UserGenerator, user_matrix
    >>> users = UserGenerator(random_state=0).fit().generate(1000)
    >>> Z = user_matrix(users)
    >>> Z.shape, bool(abs(Z.mean()) < 0.1)
    ((1000, 8), True)
    """
    if not isinstance(users, pd.DataFrame):
        raise TypeError(f"users must be a pandas DataFrame, got {type(users).__name__}.")
    missing = [name for name in USER_FEATURES if name not in users.columns]
    if missing:
        raise ValueError(f"users lacks the feature columns {missing}.")
    values = users[list(USER_FEATURES)].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)):
        bad = [n for n, ok in zip(USER_FEATURES, np.isfinite(values).all(0), strict=True) if not ok]
        raise ValueError(f"users has NaN or infinite values in {bad}.")
    Z = np.empty_like(values)
    for j, name in enumerate(USER_FEATURES):
        if name == "region":
            Z[:, j] = _region_to_normal(np.clip(values[:, j], 0, len(_REGION_SHARES) - 1))
        else:
            # Clipped so a value beyond the marginal's support stays finite.
            u = np.clip(_MARGINALS[name].cdf(values[:, j]), 1e-9, 1 - 1e-9)
            Z[:, j] = stats.norm.ppf(u)
    return Z


class UserGenerator(BaseEstimator):
    """Populations of users with eight meaningful, correlated features.

    The features are age, income, tenure, engagement, mobile share, region,
    recency and purchase frequency (:data:`USER_FEATURES`), each with a
    realistic marginal distribution, tied together by a Gaussian copula
    (older users earn more and use mobile less; engaged users bought
    recently and buy often). Each iteration of a simulation gets a fresh
    population: ``generate(n_users, iteration=i)`` draws the same users for
    the same seed and ``i``, whatever else was drawn before.

    Parameters
    ----------
    n_users : int, default=10000
        Users per population when :meth:`generate` is not told otherwise;
        at most 10**9 (user ids are unique across iterations up to that).
    random_state : int, numpy.random.Generator or None, default=None
        Resolved in :meth:`fit` into the seed of every population.

    Attributes
    ----------
    seed_ : int
        The seed the populations derive from.
    feature_names_out_ : tuple of str
        :data:`USER_FEATURES`.

    Examples
    --------
    >>> from hillmix_sim import UserGenerator
    >>> users = UserGenerator(random_state=0).fit().generate(5)
    >>> list(users.columns[:3])
    ['user_id', 'age', 'income']
    >>> users.equals(UserGenerator(random_state=0).fit().generate(5))
    True
    """

    _parameter_constraints: dict = {
        "n_users": [Interval(Integral, 1, _IDS_PER_ITERATION, closed="both")],
        "random_state": ["random_state", np.random.Generator],
    }

    def __init__(self, *, n_users: int = 10000, random_state=None):
        self.n_users = n_users
        self.random_state = random_state

    def fit(self, X=None, y=None):
        """Resolve the seed.

        Parameters
        ----------
        X, y : None
            Ignored; present for the estimator API.

        Returns
        -------
        self : UserGenerator
        """
        self._validate_params()
        self.seed_ = resolve_seed(self.random_state)
        self.feature_names_out_ = USER_FEATURES
        return self

    def generate(self, n_users: int | None = None, iteration: int = 0) -> pd.DataFrame:
        """Draw one population.

        Parameters
        ----------
        n_users : int, optional
            Defaults to the ``n_users`` parameter; at most 10**9.
        iteration : int, default=0
            Which population: each iteration has its own random stream, and
            user ids (``iteration * 10**9 + i``) are unique across
            iterations. From 0 to 9,223,372,035, so that ids fit int64.

        Returns
        -------
        users : pandas.DataFrame
            ``user_id`` and the eight features.
        """
        check_is_fitted(self, "seed_")
        n_users = self.n_users if n_users is None else n_users
        if (
            not isinstance(n_users, Integral)
            or isinstance(n_users, bool)
            or not 1 <= n_users <= _IDS_PER_ITERATION
        ):
            raise ValueError(
                f"n_users must be an integer from 1 to {_IDS_PER_ITERATION:,} (user ids are "
                f"unique across iterations up to that), got {n_users!r}."
            )
        if (
            not isinstance(iteration, Integral)
            or isinstance(iteration, bool)
            or not 0 <= iteration <= _MAX_ITERATION
        ):
            raise ValueError(
                f"iteration must be an integer from 0 to {_MAX_ITERATION:,} (user ids are "
                f"iteration * {_IDS_PER_ITERATION:,} + i, in int64), got {iteration!r}."
            )
        rng = np.random.default_rng([self.seed_, int(iteration)])
        z = rng.multivariate_normal(np.zeros(8), _CORRELATION, size=int(n_users), method="cholesky")
        u = stats.norm.cdf(z)
        columns = {"user_id": int(iteration) * 10**9 + np.arange(n_users, dtype=np.int64)}
        for j, name in enumerate(USER_FEATURES):
            if name == "region":
                columns[name] = _region_from_normal(z[:, j]).astype(np.int64)
            else:
                columns[name] = _MARGINALS[name].ppf(u[:, j])
        users = pd.DataFrame(columns)
        users["age"] = np.round(users["age"], 1)
        users["tenure"] = np.round(users["tenure"], 2)
        return users

    def _expected_failed_checks(self):
        return {
            check: "fit takes no data (X is ignored): users come from random_state alone"
            for check in NO_DATA_CHECKS
            if check != "check_estimator_sparse_tag"
        }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.target_tags.required = False
        # fit ignores X, so a sparse X is as welcome as any.
        tags.input_tags.sparse = True
        return tags
