"""GaussianProcessRewardModel: a sparse variational Gaussian process classifier (gpytorch)."""

from __future__ import annotations

import numbers

import numpy as np
from scipy import special
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval
from tqdm.auto import tqdm

from hillmix.utils import resolve_seed

from ._base import _MAX_ROWS, _BaseRewardModel, _logit
from ._torch import _EarlyStopping, require_torch

__all__ = ["GaussianProcessRewardModel"]

# Gauss-Hermite nodes for E[Phi(f)^2] under a normal f: the spread of P(click).
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(20)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def _require_gpytorch():
    require_torch("GaussianProcessRewardModel")
    try:
        import gpytorch
    except ImportError:
        raise ImportError(
            "GaussianProcessRewardModel needs gpytorch, an optional dependency of hillmix: "
            "install it with pip install 'hillmix[torch]'."
        ) from None
    return gpytorch


class GaussianProcessRewardModel(_BaseRewardModel):
    """A sparse variational Gaussian process classifier, trained on every row.

    ``P(click | u, a) = Phi(f(u, a))`` with ``f`` a Gaussian process over the
    standardised user features and the action's projected embedding: an
    RBF kernel with a lengthscale per feature (so, a product of a user
    kernel and an action kernel: users and actions interact), a constant
    mean, and a probit link. The posterior is approximated with
    ``n_inducing`` learnt inducing points and a full-covariance Gaussian
    over their values (Hensman, Matthews and Ghahramani 2015), trained by
    minibatches over all the rows, not a subsample. It is gpytorch's
    ``VariationalStrategy``; gpytorch and torch are the optional extra
    ``hillmix[torch]``.

    The posterior of ``f`` gives each probability a standard deviation and
    an interval that widen away from the data: an action far from every
    logged one has its prior's uncertainty.

    Parameters
    ----------
    n_inducing : int, default=256
        Inducing points (drawn from the training rows, then learnt).
    lr : float, default=0.01
        Adam's step size.
    batch_size : int, default=1024
    max_epochs : int, default=30
    patience : int or None, default=3
        Epochs without improvement of the held-out log loss before
        stopping; the best epoch is kept.
    validation_fraction : float, default=0.1
    pca_components : int or None, default=8
        Principal directions of the actions' embeddings kept.
    action_features : "auto", int or list of str, default="auto"
        Which columns of ``X`` are the action's embedding (see
        :class:`LogisticRewardModel`).
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the inducing points, the split and the batches; torch's
        global generator is left as it was.
    progress : bool, default=False
        A progress bar over epochs.

    Attributes
    ----------
    gp_ : gpytorch.models.ApproximateGP
    history_ : list of float
    n_epochs_ : int
    classes_, n_features_in_, feature_names_in_, n_user_features_, n_action_features_
        As in :class:`LogisticRewardModel`.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import GaussianProcessRewardModel
    >>> rng = np.random.default_rng(0)
    >>> users, actions = rng.normal(size=(1000, 2)), rng.normal(size=(10, 3))
    >>> a = rng.integers(10, size=1000)
    >>> p = 1 / (1 + np.exp(-(2 * users[:, 0] * actions[a, 0] - 1)))
    >>> X, y = np.hstack([users, actions[a]]), (rng.random(1000) < p).astype(int)
    >>> model = GaussianProcessRewardModel(n_inducing=32, max_epochs=3, action_features=3,
    ...                                    random_state=0).fit(X, y)
    >>> mean, std = model.predict_matrix(users[:2], actions, return_std=True)
    >>> mean.shape, bool((std > 0).all())
    ((2, 10), True)
    """

    _parameter_constraints: dict = {
        **_BaseRewardModel._parameter_constraints,
        "n_inducing": [Interval(numbers.Integral, 1, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "random_state": ["random_state", np.random.Generator],
        "progress": ["boolean"],
    }
    _has_uncertainty = True

    def __init__(
        self,
        *,
        n_inducing: int = 256,
        lr: float = 0.01,
        batch_size: int = 1024,
        max_epochs: int = 30,
        patience: int | None = 3,
        validation_fraction: float = 0.1,
        pca_components: int | None = 8,
        action_features="auto",
        random_state=None,
        progress: bool = False,
    ):
        self.n_inducing = n_inducing
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.pca_components = pca_components
        self.action_features = action_features
        self.random_state = random_state
        self.progress = progress

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the variational posterior and the kernel on every row, by minibatches.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_rows, n_features)
            User features, then the action's embedding (see
            :func:`~hillmix_opt.reward_table`).
        y : array-like of shape (n_rows,)
            Clicks, 0 or 1, both present.

        Returns
        -------
        self : GaussianProcessRewardModel
        """
        gpytorch = _require_gpytorch()
        import torch

        U, A, y, _ = self._fit_rows(X, y)
        features = np.hstack([U, A])
        seed = resolve_seed(self.random_state)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(y))
        n_valid = round(self.validation_fraction * len(y)) if self.patience else 0
        n_valid = min(n_valid, len(y) - 1)
        valid, train = order[:n_valid], order[n_valid:]
        inducing = features[rng.choice(train, size=min(self.n_inducing, len(train)), replace=False)]
        x = torch.as_tensor(features, dtype=torch.float32)
        t = torch.as_tensor(y, dtype=torch.float32)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            from ._sparse_gp import SparseGP

            gp = SparseGP(
                torch.as_tensor(inducing, dtype=torch.float32), n_user_features=U.shape[1]
            )
            likelihood = gpytorch.likelihoods.BernoulliLikelihood()
            history = self._train(torch, gpytorch, gp, likelihood, x, t, train, valid, seed)
        # Predictions in double precision, whatever rows they are made with.
        self.gp_ = gp.double().eval()
        self.history_ = history
        self.n_epochs_ = len(history)
        return self

    def _train(self, torch, gpytorch, gp, likelihood, x, t, train, valid, seed):
        gp.train()
        likelihood.train()
        optimizer = torch.optim.Adam(gp.parameters(), lr=self.lr)
        elbo = gpytorch.mlls.VariationalELBO(likelihood, gp, num_data=len(train))
        generator = torch.Generator().manual_seed(seed)
        train_idx = torch.as_tensor(train)
        rows = torch.as_tensor(valid if len(valid) else train)
        epochs = tqdm(range(self.max_epochs), disable=not self.progress, desc="epochs", leave=False)
        stopping = _EarlyStopping(self.patience, epochs if self.progress else None)
        for _ in epochs:
            gp.train()
            order = train_idx[torch.randperm(len(train_idx), generator=generator)]
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                optimizer.zero_grad()
                loss = -elbo(gp(x[batch]), t[batch])
                loss.backward()
                optimizer.step()
            gp.eval()
            with torch.no_grad():
                f = gp(x[rows])
                p = _probit_mean(f.mean.double().numpy(), f.variance.double().numpy())
            target = t[rows].double().numpy()
            p = np.clip(p, 1e-12, 1 - 1e-12)
            score = float(-np.mean(target * np.log(p) + (1 - target) * np.log1p(-p)))
            if stopping.stop(score, gp):
                break
        return stopping.restore(gp)

    # ------------------------------------------------------------ predict
    def _latent(self, U, A):
        """Posterior mean and variance of f for each row, in chunks."""
        import torch

        _require_gpytorch()
        features = np.hstack([U, A])
        mean, var = np.empty(len(features)), np.empty(len(features))
        with torch.no_grad():
            for start in range(0, len(features), _MAX_ROWS // 4):
                part = torch.as_tensor(features[start : start + _MAX_ROWS // 4])
                f = self.gp_(part)
                mean[start : start + len(part)] = f.mean.numpy()
                var[start : start + len(part)] = f.variance.numpy()
        return mean, np.maximum(var, 0.0)

    def _row_logits(self, U, A):
        return _logit(_probit_mean(*self._latent(U, A)))

    def _pairs(self, U, A):
        rows_u = np.repeat(U, len(A), axis=0)
        rows_a = np.tile(A, (len(U), 1))
        mean, var = self._latent(rows_u, rows_a)
        return mean.reshape(len(U), len(A)), var.reshape(len(U), len(A))

    def _matrix_mean_std(self, U, A):
        mean, var = self._pairs(U, A)
        sd = np.sqrt(var)
        p = _probit_mean(mean, var)
        # E[Phi(f)^2] by Gauss-Hermite quadrature over f ~ N(mean, var).
        second = sum(
            w * special.ndtr(mean + sd * z) ** 2 for z, w in zip(_NODES, _WEIGHTS, strict=True)
        )
        return p, np.sqrt(np.maximum(second - p * p, 0.0))

    def _matrix_interval(self, U, A, coverage):
        mean, var = self._pairs(U, A)
        z = special.ndtri(0.5 + coverage / 2.0)
        sd = np.sqrt(var)
        # Phi is increasing: the quantiles of Phi(f) are Phi of f's quantiles.
        return special.ndtr(mean - z * sd), special.ndtr(mean + z * sd)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def _probit_mean(mean, var):
    """E[Phi(f)] for f ~ N(mean, var): Phi(mean / sqrt(1 + var))."""
    return special.ndtr(mean / np.sqrt(1.0 + var))
