"""The gpytorch model of GaussianProcessRewardModel; imported only when gpytorch is installed."""

from __future__ import annotations

import gpytorch

__all__ = ["SparseGP"]


class SparseGP(gpytorch.models.ApproximateGP):
    """A variational GP with learnt inducing points over users and actions.

    The kernel is a product of a user kernel and an action kernel, so users
    and actions interact: ``k = s * k_user(u, u') * (k_lin(a, a') +
    k_rbf(a, a'))``, RBF kernels with a lengthscale per feature. The action
    kernel's linear part carries preferences along directions of the action
    space (a user likes more of something), its RBF part local tastes (a
    user likes actions near an ideal one).

    Parameters
    ----------
    inducing_points : torch.Tensor of shape (n_inducing, n_features)
        Initial inducing locations.
    n_user_features : int
        The first ``n_user_features`` columns are the user's, the rest the
        action's.
    """

    def __init__(self, inducing_points, n_user_features=None):
        distribution = gpytorch.variational.CholeskyVariationalDistribution(inducing_points.size(0))
        strategy = gpytorch.variational.VariationalStrategy(
            self, inducing_points, distribution, learn_inducing_locations=True
        )
        super().__init__(strategy)
        self.mean_module = gpytorch.means.ConstantMean()
        n_features = inducing_points.size(1)
        p = n_features if n_user_features is None else n_user_features
        kernels = gpytorch.kernels
        if p == n_features:  # no action features
            joint = kernels.RBFKernel(ard_num_dims=n_features)
        else:
            users, actions = tuple(range(p)), tuple(range(p, n_features))
            user = kernels.RBFKernel(ard_num_dims=len(users), active_dims=users)
            action = kernels.LinearKernel(active_dims=actions) + kernels.RBFKernel(
                ard_num_dims=len(actions), active_dims=actions
            )
            joint = user * action if p else action
        self.covar_module = kernels.ScaleKernel(joint)

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))
