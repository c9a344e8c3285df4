"""Shared data for the hillmix benchmarks."""

import warnings

import hillmix
from hillmix_sim import make_mmm_data

# 156 weeks x 8 channels: the size of the speed targets (and the peers' runs).
N_PERIODS, N_CHANNELS = 156, 8


def mmm_data(dgp="mixture_k3", seed=0):
    X, y, truth = make_mmm_data(
        dgp=dgp, n_periods=N_PERIODS, n_channels=N_CHANNELS, random_state=seed
    )
    return X, y, truth


def quiet_fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hillmix.ConvergenceWarning)
        return model.fit(X, y)
