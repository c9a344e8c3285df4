"""What the torch reward models share: skorch's pattern for torch models as estimators.

As in skorch, the network is built in ``fit``, never in ``__init__``;
sub-parameters are routed by double underscores (``module__hidden_units``
to the network's constructor, ``optimizer__weight_decay`` to the
optimizer's), so ``clone``, ``set_params`` and ``GridSearchCV`` reach them;
training stops early on a held-out share of the rows and keeps the best
epoch's weights; a progress bar shows the epochs when asked.

Torch is an optional dependency (``pip install 'hillmix[torch]'``): this
module imports it only when a model is fitted or used. Randomness comes from
``random_state`` alone, in a forked copy of torch's generator, so the
global one is left as it was.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from tqdm.auto import tqdm

from hillmix.utils import resolve_seed

from ._base import _BaseRewardModel

__all__ = ["require_torch"]

_ROUTED = ("module__", "optimizer__")
_OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD"}


def require_torch(owner: str):
    """``torch``, or an ImportError that names the extra to install."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{owner} needs PyTorch, an optional dependency of hillmix: install it with "
            "pip install 'hillmix[torch]'."
        ) from None
    return torch


class _EarlyStopping:
    """Epoch by epoch: the held-out losses, the best epoch's weights, when to stop.

    Shared by the networks' training loop and the Gaussian process's.
    """

    def __init__(self, patience: int | None, bar=None):
        self.patience = patience
        self.bar = bar
        self.history: list[float] = []
        self.best, self.best_loss, self.waited = None, np.inf, 0

    def stop(self, score: float, module) -> bool:
        """Record an epoch's held-out loss; True once ``patience`` epochs brought nothing."""
        self.history.append(score)
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{score:.4f}")
        if score < self.best_loss - 1e-6:
            self.best, self.best_loss, self.waited = copy.deepcopy(module.state_dict()), score, 0
        elif self.patience is not None:
            self.waited += 1
            return self.waited >= self.patience
        return False

    def restore(self, module) -> list[float]:
        """Load the best epoch's weights into ``module``; return the losses."""
        if self.best is not None:
            module.load_state_dict(self.best)
        return self.history


class _TorchRewardModel(_BaseRewardModel):
    """A reward model whose network is a torch module; subclasses build the module.

    A subclass sets ``_module_defaults`` (constructor defaults of its module,
    which ``module__*`` parameters override) and implements
    ``_build_module(torch, n_user_features, n_action_features, **params)``.
    The module's ``forward(U, A)`` returns one logit per row.
    """

    _parameter_constraints: dict = {
        **_BaseRewardModel._parameter_constraints,
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "device": [str],
        "random_state": ["random_state", np.random.Generator],
        "progress": ["boolean"],
    }

    _module_defaults: dict = {}
    _optimizer_defaults: dict = {"weight_decay": 1e-4}

    # -------------------------------------------------- routed parameters
    def _routed(self, prefix: str) -> dict:
        return {
            key[len(prefix) :]: value for key, value in vars(self).items() if key.startswith(prefix)
        }

    def get_params(self, deep: bool = True) -> dict:
        """Parameters, the routed ``module__*`` and ``optimizer__*`` ones included."""
        params = super().get_params(deep=deep)
        params.update({k: v for k, v in vars(self).items() if k.startswith(_ROUTED)})
        return params

    def set_params(self, **params):
        """Set parameters, ``module__*`` and ``optimizer__*`` ones included.

        Returns
        -------
        self
        """
        routed = {k: v for k, v in params.items() if k.startswith(_ROUTED)}
        vars(self).update(routed)
        rest = {k: v for k, v in params.items() if k not in routed}
        return super().set_params(**rest) if rest else self

    def _store_routed(self, kwargs: dict):
        """What ``__init__`` does with ``**kwargs``: store them, as skorch does."""
        vars(self).update(kwargs)

    def _check_routed(self):
        unknown = [
            k
            for k in vars(self)
            if "__" in k and not k.startswith(_ROUTED) and not k.startswith("_")
        ]
        if unknown:
            raise ValueError(
                f"{type(self).__name__} got unknown parameters {sorted(unknown)}; sub-parameters "
                "go to the network as module__<name> and to the optimizer as optimizer__<name>."
            )

    # ---------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on joined rows, stopping early on a held-out share.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_rows, n_features)
            User features, then the action's embedding (see
            :func:`~hillmix_opt.reward_table`).
        y : array-like of shape (n_rows,)
            Clicks, 0 or 1, both present.
        sample_weight : array-like of shape (n_rows,), default=None
            Weights of the rows in the loss.

        Returns
        -------
        self
        """
        torch = require_torch(type(self).__name__)
        self._check_routed()
        device = self._device(torch)
        U, A, y, w = self._fit_rows(X, y, sample_weight)
        seed = resolve_seed(self.random_state)
        self.seed_ = seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = self._make_module(torch).to(device)
            history = self._train(torch, module, U, A, y, w, seed, device)
        # Predictions in double precision: single precision's rounding would
        # depend on how many rows a matrix product holds.
        self.module_ = module.to("cpu").double().eval()
        self.history_ = history
        self.n_epochs_ = len(history)
        self._after_training(U, A, y, w)
        return self

    def _after_training(self, U, A, y, w):
        """What a subclass computes from the trained network and its rows (nothing here)."""

    def _device(self, torch):
        try:
            return torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ValueError(
                f"device must name a torch device ('cpu', 'cuda'), got {self.device!r}."
            ) from None

    def _make_module(self, torch):
        params = {**self._module_defaults, **self._routed("module__")}
        try:
            return self._build_module(torch, self.n_user_features_, self._n_components(), **params)
        except TypeError as error:
            raise ValueError(f"module__ parameters {sorted(params)}: {error}") from None

    def _expected_failed_checks(self) -> dict[str, str]:
        """scikit-learn checks this estimator fails by design, with the reason."""
        return {
            **super()._expected_failed_checks(),
            "check_do_not_raise_errors_in_init_or_set_params": (
                "**kwargs carries the module__ and optimizer__ sub-parameters, as in skorch; "
                "the check passes a parameter literally named 'kwargs'"
            ),
            "check_sample_weight_equivalence_on_dense_data": (
                "minibatch training: a repeated row changes the batches and the held-out "
                "split, so it is the same objective as a weight of two, not the same model"
            ),
        }

    def _n_components(self) -> int:
        return int(self.action_projection_.shape[1])

    def _make_optimizer(self, torch, parameters):
        params = {**self._optimizer_defaults, **self._routed("optimizer__")}
        cls = getattr(torch.optim, _OPTIMIZERS[self.optimizer])
        try:
            return cls(parameters, lr=self.lr, **params)
        except TypeError as error:
            raise ValueError(f"optimizer__ parameters {sorted(params)}: {error}") from None

    def _split_rows(self, n, seed):
        order = np.random.default_rng(seed).permutation(n)
        n_valid = round(self.validation_fraction * n) if self.patience is not None else 0
        n_valid = min(n_valid, n - 1)
        return np.sort(order[n_valid:]), np.sort(order[:n_valid])

    def _train(self, torch, module, U, A, y, w, seed, device):
        train, valid = self._split_rows(len(y), seed)
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
        Ut, At, yt = as_tensor(U), as_tensor(A), as_tensor(y)
        wt = None if w is None else as_tensor(w)
        optimizer = self._make_optimizer(torch, module.parameters())
        generator = torch.Generator().manual_seed(seed)
        loss_fn = torch.nn.functional.binary_cross_entropy_with_logits
        train_idx = torch.as_tensor(train, device=device)
        valid_idx = torch.as_tensor(valid, device=device)
        epochs = tqdm(range(self.max_epochs), disable=not self.progress, desc="epochs", leave=False)
        stopping = _EarlyStopping(self.patience, epochs if self.progress else None)
        for _ in epochs:
            module.train()
            order = train_idx[torch.randperm(len(train_idx), generator=generator).to(device)]
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                logits = module(Ut[batch], At[batch])
                weight = None if wt is None else wt[batch]
                loss = loss_fn(logits, yt[batch], weight=weight)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            module.eval()
            rows = valid_idx if len(valid_idx) else train_idx
            with torch.no_grad():
                logits = module(Ut[rows], At[rows])
                weight = None if wt is None else wt[rows]
                score = float(loss_fn(logits, yt[rows], weight=weight))
            if stopping.stop(score, module):
                break
        return stopping.restore(module)

    # ------------------------------------------------------------ predict
    def _torch(self):
        return require_torch(type(self).__name__)

    def _row_logits(self, U, A):
        torch = self._torch()
        with torch.no_grad():
            out = self.module_(torch.as_tensor(U), torch.as_tensor(A))
        return out.numpy()
