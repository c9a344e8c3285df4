"""The models an allocator combines: labels, weights, ModelWeight, the zero-weight warning."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ModelWeight", "ZeroWeightWarning", "resolve_models", "resolve_weights"]


class ZeroWeightWarning(UserWarning):
    """A model has weight zero: the allocator leaves it out of the objective."""


@dataclass(frozen=True)
class ModelWeight:
    """A model with its label and weight, for :class:`~hillmix_opt.BudgetAllocator`.

    Parameters
    ----------
    label : str
        Name of the outcome, e.g. ``"online revenue"``.
    model : object
        A fitted model offering the response protocol
        (:class:`~hillmix_opt.ResponseModel`), or an unfitted estimator the
        allocator fits.
    weight : float, default=None
        The model's weight: its profit margin with ``weights="margin"``, a
        relative importance otherwise. None leaves it to the allocator's
        ``weights``.

    Notes
    -----
    The record is not an estimator, so :func:`sklearn.base.clone` copies it
    (and the fitted model inside) rather than re-creating the model unfitted.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import HillCurveModel, ModelWeight
    >>> store = HillCurveModel(amplitude=100.0).fit(np.ones((2, 3)))
    >>> ModelWeight("store", store, weight=0.3).weight
    0.3
    """

    label: str
    model: Any
    weight: float | None = None


def resolve_models(models) -> list[tuple[str, Any, float | None]]:
    """``models`` as a list of (label, model, record weight).

    One model gets the label ``"model"``; models in a list ``"model_0"``,
    ``"model_1"``, ... unless they come as :class:`ModelWeight` records; a
    mapping's keys are labels.
    """
    if models is None:
        raise ValueError(
            "models is required: a fitted model, a list of models, a mapping label -> model "
            "or ModelWeight records."
        )
    if isinstance(models, Mapping):
        entries = []
        for label, item in models.items():
            if not isinstance(label, str):
                raise TypeError(f"models' labels must be strings, got {label!r}.")
            if isinstance(item, ModelWeight):
                if item.label != label:
                    raise ValueError(
                        f"models maps {label!r} to ModelWeight {item.label!r}: labels differ."
                    )
                entries.append((label, item.model, item.weight))
            else:
                entries.append((label, item, None))
    elif isinstance(models, list | tuple):
        entries = [
            (m.label, m.model, m.weight) if isinstance(m, ModelWeight) else (f"model_{i}", m, None)
            for i, m in enumerate(models)
        ]
    elif isinstance(models, ModelWeight):
        entries = [(models.label, models.model, models.weight)]
    else:
        entries = [("model", models, None)]
    if not entries:
        raise ValueError("models is empty: give at least one model.")
    labels = [e[0] for e in entries]
    if not all(isinstance(label, str) and label for label in labels):
        raise TypeError(f"Model labels must be non-empty strings, got {labels}.")
    if len(set(labels)) != len(labels):
        raise ValueError(f"Model labels repeat: {labels}.")
    return entries


def resolve_weights(weights, entries) -> np.ndarray:
    """The weight of each model, from ``weights`` and the records' weights.

    Raises
    ------
    ValueError
        On unknown presets, wrong lengths or labels, conflicts with record
        weights, negative or non-finite weights, or all weights zero.

    Warns
    -----
    ZeroWeightWarning
        For each model of weight zero: it is left out of the objective.
    """
    labels = [e[0] for e in entries]
    records = [e[2] for e in entries]
    given = [label for label, r in zip(labels, records, strict=True) if r is not None]
    if isinstance(weights, str):
        if weights == "equal":
            if any(r != 1.0 for r in records if r is not None):
                raise ValueError(
                    f"weights='equal', but ModelWeight records {given} carry weights; "
                    "use weights='margin' to use them."
                )
            values = np.ones(len(entries))
        elif weights == "margin":
            missing = [label for label, r in zip(labels, records, strict=True) if r is None]
            if missing:
                raise ValueError(
                    f"weights='margin' needs each model's profit margin as a ModelWeight "
                    f"weight; missing for {missing}."
                )
            values = np.asarray(records, dtype=float)
        else:
            raise ValueError(
                f"weights must be 'equal', 'margin', a sequence or a mapping label -> "
                f"weight; got {weights!r}."
            )
    else:
        if given:
            raise ValueError(
                f"weights is given, and ModelWeight records {given} carry weights too; "
                "give the weights in one place."
            )
        if isinstance(weights, Mapping):
            unknown = sorted(set(weights) - set(labels), key=str)
            missing = [label for label in labels if label not in weights]
            if unknown or missing:
                raise ValueError(
                    f"weights must name every model exactly: models {labels}, "
                    f"unknown {unknown}, missing {missing}."
                )
            values = np.asarray([weights[label] for label in labels], dtype=float)
        else:
            values = np.asarray(weights, dtype=float).ravel()
            if values.shape != (len(entries),):
                raise ValueError(
                    f"weights has {values.size} values for {len(entries)} models {labels}."
                )
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"weights must be finite and non-negative, got {values.tolist()}.")
    if not np.any(values > 0):
        raise ValueError("Every model has weight zero: there is nothing to optimise.")
    for label, value in zip(labels, values, strict=True):
        if value == 0:
            warnings.warn(
                f"Model {label!r} has weight zero: it is left out of the objective "
                "(its response is still reported).",
                ZeroWeightWarning,
                stacklevel=4,
            )
    return values
