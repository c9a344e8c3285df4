"""A Laplace approximation of a two-tower network's last, bilinear layer.

The two towers' last linear layers make the logit a bilinear form of the
features that enter them, ``logit = h~' M a~`` with ``h~ = [h(u), 1]`` and
``a~ = [g(a), 1]``. With the features fixed, ``vec(M)`` is the weight vector
of a logistic regression on ``h~ (x) a~``; its posterior is approximated by
a Gaussian at the trained weights whose precision is the generalised
Gauss-Newton matrix plus an isotropic prior (MacKay 1992; Daxberger et al.
2021, "Laplace Redux"). The prior precision maximises the Laplace evidence.

The logit's posterior variance, ``(h~ (x) a~)' S (h~ (x) a~)``, grows with
the size of an action's features along directions the log pinned down
weakly, which a network's dropout spread does not.

Pure functions of arrays; :class:`BayesianNeuralRewardModel` calls them.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

__all__ = [
    "bilinear_weights",
    "evidence_precision",
    "gauss_newton",
    "logit_variance",
    "posterior_covariance",
    "with_one",
]

# Rows (or users) per chunk: bounds the temporaries at some tens of MB.
_CHUNK = 4096


def with_one(F: np.ndarray) -> np.ndarray:
    """Features with a constant column appended."""
    return np.hstack([F, np.ones((len(F), 1))])


def bilinear_weights(user_layer, action_layer, bias: float) -> np.ndarray:
    """``M`` such that the network's logit is ``[h, 1]' M [g, 1]``.

    Parameters
    ----------
    user_layer, action_layer : (weight, bias) pairs
        The towers' last linear layers, weights of shape ``(dim + 1, n_in)``:
        the first ``dim`` outputs are multiplied pairwise, the last is each
        tower's own additive term.
    bias : float
        The network's global bias.

    Returns
    -------
    M : ndarray of shape (n_user_in + 1, n_action_in + 1)
    """
    Fu = np.hstack([user_layer[0], user_layer[1][:, None]])
    Fa = np.hstack([action_layer[0], action_layer[1][:, None]])
    M = Fu[:-1].T @ Fa[:-1]
    M[:, -1] += Fu[-1]
    M[-1, :] += Fa[-1]
    M[-1, -1] += bias
    return M


def gauss_newton(H: np.ndarray, G: np.ndarray, curvature: np.ndarray) -> np.ndarray:
    """``sum_i c_i vec(h_i g_i') vec(h_i g_i')'``, in chunks of rows.

    Parameters
    ----------
    H : ndarray of shape (n_rows, p)
    G : ndarray of shape (n_rows, q)
    curvature : ndarray of shape (n_rows,)
        ``w_i p_i (1 - p_i)``, the log-likelihood's curvature in the logit.

    Returns
    -------
    ndarray of shape (p * q, p * q)
    """
    p, q = H.shape[1], G.shape[1]
    out = np.zeros((p * q, p * q))
    for start in range(0, len(H), _CHUNK):
        part = slice(start, start + _CHUNK)
        Phi = (H[part, :, None] * G[part, None, :]).reshape(-1, p * q)
        out += (Phi * curvature[part, None]).T @ Phi
    return out


def evidence_precision(eigenvalues: np.ndarray, weight_norm2: float) -> float:
    """The isotropic prior precision that maximises the Laplace evidence.

    With the likelihood's curvature ``C`` (eigenvalues ``e_k``) and the
    trained weights ``w``, the evidence's dependence on the prior precision
    ``l`` is ``-l |w|^2 / 2 + P log(l) / 2 - sum_k log(e_k + l) / 2``.

    Parameters
    ----------
    eigenvalues : ndarray of shape (P,)
    weight_norm2 : float
        ``|w|^2``.

    Returns
    -------
    float
    """
    e = np.maximum(eigenvalues, 0.0)
    P = e.size

    def negative(log_l):
        lam = np.exp(log_l)
        return lam * weight_norm2 / 2 - P * log_l / 2 + np.sum(np.log(e + lam)) / 2

    found = minimize_scalar(negative, bounds=(np.log(1e-6), np.log(1e6)), method="bounded")
    return float(np.exp(found.x))


def posterior_covariance(curvature_matrix: np.ndarray, weights: np.ndarray):
    """The Laplace posterior's covariance and its prior precision.

    Parameters
    ----------
    curvature_matrix : ndarray of shape (P, P)
        From :func:`gauss_newton`.
    weights : ndarray of shape (P,)
        The trained weights, ``vec(M)``.

    Returns
    -------
    covariance : ndarray of shape (P, P)
    prior_precision : float
    """
    e, V = np.linalg.eigh(curvature_matrix)
    lam = evidence_precision(e, float(weights @ weights))
    return (V / (np.maximum(e, 0.0) + lam)) @ V.T, lam


def logit_variance(H: np.ndarray, G: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """Posterior variance of every user's logit for every action.

    ``var_ij = g_j' B_i g_j`` with ``B_i = (h_i (x) I)' S (h_i (x) I)``: one
    small matrix per user, then a quadratic form per pair, never the
    ``(p q)``-long feature vector of each pair.

    Parameters
    ----------
    H : ndarray of shape (n_users, p)
    G : ndarray of shape (n_actions, q)
    covariance : ndarray of shape (p * q, p * q)

    Returns
    -------
    ndarray of shape (n_users, n_actions)
    """
    p, q = H.shape[1], G.shape[1]
    S = covariance.reshape(p, q * p * q)
    out = np.empty((len(H), len(G)))
    step = max(1, _CHUNK * 64 // max(len(G), 1))
    for start in range(0, len(H), step):
        h = H[start : start + step]
        # B_i[l, n] = sum_km h_ik S[k, l, m, n] h_im, by two matrix products.
        B = np.einsum("ilmn,im->iln", (h @ S).reshape(len(h), q, p, q), h)
        out[start : start + len(h)] = np.einsum("ijn,jn->ij", np.matmul(G[None], B), G)
    return np.maximum(out, 0.0)
