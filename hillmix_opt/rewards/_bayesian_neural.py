"""BayesianNeuralRewardModel: two towers with Monte Carlo dropout and a Laplace last layer."""

from __future__ import annotations

import numbers

import numpy as np
from scipy.special import ndtri
from sklearn.utils._param_validation import Interval

from ._base import _logit, _sigmoid
from ._laplace import bilinear_weights, gauss_newton, logit_variance, posterior_covariance, with_one
from ._neural import NeuralRewardModel

__all__ = ["BayesianNeuralRewardModel"]

# Users per chunk of the interval computation: every draw of a chunk is held.
_INTERVAL_PAIRS = 2**20


class BayesianNeuralRewardModel(NeuralRewardModel):
    """Two towers with Monte Carlo dropout (Gal, Ghahramani 2016) and a Laplace last layer.

    The network of :class:`NeuralRewardModel`, trained with dropout
    (``module__dropout``, default 0.2). A prediction averages
    ``n_mc_samples`` sampled networks, each with its own dropout masks.
    Each sampled network is one set of masks shared by every user and action
    (drawn from the fitted seed), so a prediction does not depend on the
    other rows it is made with, and every one is a matrix product.

    Dropout's spread does not grow for actions unlike any logged one: a
    ReLU network extrapolates as confidently as it interpolates. With
    ``laplace=True`` the towers' last layers, whose product is the logit, get
    a Laplace approximation of their posterior given the log (the prior
    precision chosen by the evidence; see ``_laplace``), whose variance does
    grow there; it adds to dropout's on the logit scale, and intervals are
    then Gaussian on that scale. Without it, intervals are the sampled
    networks' quantiles.

    Parameters
    ----------
    n_mc_samples : int, default=30
        Sampled networks per prediction.
    laplace : bool, default=True
        Add the last layer's Laplace posterior to the dropout spread.
    lr, optimizer, batch_size, max_epochs, patience, validation_fraction, pca_components,
    action_features, device, random_state, progress, **kwargs
        As in :class:`NeuralRewardModel`.

    Attributes
    ----------
    module_, history_, n_epochs_, classes_, n_features_in_, feature_names_in_
        As in :class:`NeuralRewardModel`.
    laplace_covariance_ : ndarray of shape (P, P) or None
        Posterior covariance of the last layer's bilinear weights (None
        without ``laplace``).
    prior_precision_ : float or None
        Its prior precision, by the evidence.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import BayesianNeuralRewardModel
    >>> rng = np.random.default_rng(0)
    >>> users, actions = rng.normal(size=(1000, 3)), rng.normal(size=(20, 4))
    >>> a = rng.integers(20, size=1000)
    >>> p = 1 / (1 + np.exp(-(2 * users[:, 0] * actions[a, 0] - 1)))
    >>> X, y = np.hstack([users, actions[a]]), (rng.random(1000) < p).astype(int)
    >>> model = BayesianNeuralRewardModel(n_mc_samples=10, max_epochs=5, action_features=4,
    ...                                   random_state=0).fit(X, y)
    >>> mean, std = model.predict_matrix(users[:3], actions, return_std=True)
    >>> mean.shape, bool((std > 0).all())
    ((3, 20), True)
    """

    _parameter_constraints: dict = {
        **NeuralRewardModel._parameter_constraints,
        "n_mc_samples": [Interval(numbers.Integral, 2, None, closed="left")],
        "laplace": ["boolean"],
    }
    _has_uncertainty = True

    def __init__(
        self,
        *,
        n_mc_samples: int = 30,
        laplace: bool = True,
        lr: float = 1e-3,
        optimizer: str = "adamw",
        batch_size: int = 512,
        max_epochs: int = 50,
        patience: int | None = 5,
        validation_fraction: float = 0.1,
        pca_components: int | None = 8,
        action_features="auto",
        device: str = "cpu",
        random_state=None,
        progress: bool = False,
        **kwargs,
    ):
        super().__init__(
            lr=lr,
            optimizer=optimizer,
            batch_size=batch_size,
            max_epochs=max_epochs,
            patience=patience,
            validation_fraction=validation_fraction,
            pca_components=pca_components,
            action_features=action_features,
            device=device,
            random_state=random_state,
            progress=progress,
            **kwargs,
        )
        self.n_mc_samples = n_mc_samples
        self.laplace = laplace

    def _after_training(self, U, A, y, w):
        self.laplace_covariance_ = self.prior_precision_ = None
        if not self.laplace:
            return
        torch = self._torch()
        net = self.module_
        with torch.no_grad():
            p = _sigmoid(net(torch.as_tensor(U), torch.as_tensor(A)).numpy())
            H, G = (
                with_one(f.numpy()) for f in net.last_inputs(torch.as_tensor(U), torch.as_tensor(A))
            )
        layers = [
            (t.layers[-1].weight.detach().numpy(), t.layers[-1].bias.detach().numpy())
            for t in (net.user_tower, net.action_tower)
        ]
        M = bilinear_weights(*layers, float(net.bias.detach()))
        curvature = p * (1.0 - p) * (1.0 if w is None else w)
        self.laplace_covariance_, self.prior_precision_ = posterior_covariance(
            gauss_newton(H, G, curvature), M.ravel()
        )

    def _laplace_variance(self, U, A):
        """The last layer's posterior variance of every user's logit for every action."""
        torch = self._torch()
        with torch.no_grad():
            H, G = (
                with_one(f.numpy())
                for f in self.module_.last_inputs(torch.as_tensor(U), torch.as_tensor(A))
            )
        return logit_variance(H, G, self.laplace_covariance_)

    def _masks(self, torch):
        """The sampled networks' dropout masks: a function of the fitted seed alone."""
        generator = torch.Generator().manual_seed(int(self.seed_) + 1)
        return [self.module_.draw_masks(generator) for _ in range(self.n_mc_samples)]

    def _draws(self, method, U, A):
        """Each sampled network's click probabilities (a generator of arrays)."""
        torch = self._torch()
        Ut, At = torch.as_tensor(U), torch.as_tensor(A)
        with torch.no_grad():
            for masks in self._masks(torch):
                yield _sigmoid(getattr(self.module_, method)(Ut, At, masks).numpy())

    def _mean_std(self, method, U, A):
        total = square = None
        for p in self._draws(method, U, A):
            total = p.copy() if total is None else total + p
            square = p * p if square is None else square + p * p
        n = self.n_mc_samples
        mean = total / n
        var = np.maximum(square / n - mean * mean, 0.0) * n / (n - 1)
        return mean, np.sqrt(var)

    def _row_logits(self, U, A):
        return _logit(self._mean_std("forward", U, A)[0])

    def _matrix_logits(self, U, A):
        return _logit(self._mean_std("matrix", U, A)[0])

    def _matrix_mean_std(self, U, A):
        mean, std = self._mean_std("matrix", U, A)
        if self.laplace:
            # The delta method: a logit variance v is a probability variance (p (1 - p))^2 v.
            slope = mean * (1.0 - mean)
            std = np.sqrt(std * std + slope * slope * self._laplace_variance(U, A))
        return mean, std

    def _matrix_interval(self, U, A, coverage):
        if self.laplace:
            return self._gaussian_interval(U, A, coverage)
        tail = (1.0 - coverage) / 2.0
        lower, upper = np.empty((len(U), len(A))), np.empty((len(U), len(A)))
        step = max(1, _INTERVAL_PAIRS // (len(A) * self.n_mc_samples))
        for start in range(0, len(U), step):
            part = slice(start, start + step)
            draws = np.stack(list(self._draws("matrix", U[part], A)))
            lower[part] = np.quantile(draws, tail, axis=0)
            upper[part] = np.quantile(draws, 1.0 - tail, axis=0)
        return lower, upper

    def _gaussian_interval(self, U, A, coverage):
        """Mean +- z sd of the logit, sd from dropout's logits and the Laplace variance."""
        total = square = None
        for p in self._draws("matrix", U, A):
            z = _logit(p)
            total = z.copy() if total is None else total + z
            square = z * z if square is None else square + z * z
        n = self.n_mc_samples
        centre = total / n
        spread = np.maximum(square / n - centre * centre, 0.0) * n / (n - 1)
        sd = np.sqrt(spread + self._laplace_variance(U, A))
        half = ndtri(0.5 + coverage / 2.0) * sd
        return _sigmoid(centre - half), _sigmoid(centre + half)
