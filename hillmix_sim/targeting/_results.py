"""What a simulated company's run leaves: its inputs and its results, on disk and back.

:class:`SimulationData` holds the users of every iteration and the initial
bank, generated once so several strategies or algorithms can run on the
same data; :class:`SimulationResults` holds what a run produced, in the
seed's results layout. Both are written atomically (a directory built
beside its target and renamed into place).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .._files import atomic_directory, write_json
from ._action_bank import ActionBank

__all__ = ["SimulationData", "SimulationResults"]


def _write_table(frame: pd.DataFrame, path_stem: Path, fmt: str) -> None:
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.to_parquet(path_stem.with_suffix(".parquet"), index=False)
    else:
        frame.to_csv(path_stem.with_suffix(".csv"), index=False)


def _table_file(path_stem: Path) -> Path:
    parquet = path_stem.with_suffix(".parquet")
    return parquet if parquet.exists() else path_stem.with_suffix(".csv")


def _read_table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


class _Reader:
    """Reads the files of one saved directory; a file that cannot be read is named.

    A damaged directory (a truncated file, one missing, one edited by hand)
    raises a ValueError saying which file and why, from the reader's own
    error, rather than a bare JSONDecodeError or ArrowInvalid.
    """

    def __init__(self, root: Path, kind: str):
        self.root, self.kind = root, kind

    def __call__(self, read, path: Path):
        try:
            return read(path)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
            raise self.damaged(path, error) from error

    def damaged(self, path: Path, error: Exception) -> ValueError:
        detail = "is missing" if isinstance(error, FileNotFoundError) else "cannot be read"
        return ValueError(
            f"{str(self.root)!r} is a damaged {self.kind} directory: "
            f"{path.relative_to(self.root).as_posix()} {detail} ({type(error).__name__}: {error})."
        )


@dataclass
class SimulationData:
    """The inputs of a simulation, generated once and reused across algorithms.

    Attributes
    ----------
    users : list of pandas.DataFrame
        One fresh population per iteration.
    initial_bank : ActionBank
    config : dict
        How the data were generated.
    """

    users: list[pd.DataFrame]
    initial_bank: ActionBank
    config: dict = field(default_factory=dict)

    def save(self, path) -> Path:
        """Write ``data_config.json``, the initial bank and each iteration's users.

        The directory is written beside its target and renamed into place,
        so an interrupted save leaves nothing that looks complete.
        """
        with atomic_directory(path, "path") as tmp:
            write_json(self.config, tmp / "data_config.json")
            self.initial_bank.to_json(tmp / "initialization" / "action_bank" / "action_bank.json")
            for i, users in enumerate(self.users):
                _write_table(users, tmp / f"iteration_{i}" / "users" / "users", "parquet")
        return Path(path)

    @classmethod
    def load(cls, path) -> SimulationData:
        """Read a directory written by :meth:`save`."""
        root = Path(path)
        config_file = root / "data_config.json"
        if not config_file.exists():
            raise ValueError(
                f"{str(root)!r} is not a simulation-data directory (no data_config.json)."
            )
        read = _Reader(root, "simulation-data")
        config = read(_read_json, config_file)
        try:
            n_iterations = int(config["n_iterations"])
        except (KeyError, TypeError, ValueError) as error:
            raise read.damaged(config_file, error) from error
        bank = read(
            ActionBank.from_json, root / "initialization" / "action_bank" / "action_bank.json"
        )
        users = [
            read(_read_table, _table_file(root / f"iteration_{i}" / "users" / "users"))
            for i in range(n_iterations)
        ]
        return cls(users=users, initial_bank=bank, config=config)


# What a results directory holds (SimulationResults.save), and nothing else.
_RESULTS_FILES = ("simulation_config.json", "complete_simulation_results.json")
_RESULTS_FOLDER = re.compile(r"initialization|iteration_\d+")


def is_results_directory(path: Path) -> bool:
    """Whether ``path`` holds a previous run's results and nothing else.

    Only such a directory may be overwritten: the files a run writes, with
    its two JSON summaries; anything else (a file of the user's, another
    dataset) makes it a directory that is not ours to delete.
    """
    entries = list(path.iterdir())
    files = {entry.name for entry in entries if entry.is_file()}
    ours = [
        (entry.is_file() and entry.name in _RESULTS_FILES)
        or (entry.is_dir() and _RESULTS_FOLDER.fullmatch(entry.name) is not None)
        for entry in entries
    ]
    return files.issuperset(_RESULTS_FILES) and all(ours)


def results_directory_policy(overwrite: bool) -> dict:
    """``replaceable`` and ``advice`` of a results directory, for :func:`atomic_directory`."""
    if overwrite:
        return {
            "replaceable": is_results_directory,
            "advice": (
                "it is not a previous run's results directory (simulation_config.json, "
                "complete_simulation_results.json, initialization/ and iteration_<i>/ folders, "
                "and nothing else), the only kind overwrite=True replaces; choose a new directory"
            ),
        }
    return {
        "advice": (
            "choose a new directory, or pass overwrite=True to replace a previous run's "
            "results there"
        )
    }


@dataclass
class SimulationResults:
    """What a :class:`CompanySimulator` run produced.

    Attributes
    ----------
    config : dict
    iterations : pandas.DataFrame
        One row per iteration: ``company_reward`` (click rate), the true
        ``expected_reward`` of the chosen actions, the strategy's
        ``policy_value``, ``oracle_reward`` (best action in the bank for
        each user), ``best_single_action_reward``, ``random_reward`` and
        ``regret`` (oracle minus expected).
    observations : list of pandas.DataFrame
        The logs: user features (raw, and as the normal scores strategies
        see, :data:`USER_SCORE_COLUMNS`), ``action_id``, ``propensity``,
        ``reward``, and the true ``click_probability`` of the chosen action.
    banks : list of ActionBank
        The bank each iteration targeted with.
    new_banks : list of ActionBank or None
    ground_truth_evaluations, algorithm_results : list of dict
    """

    config: dict
    iterations: pd.DataFrame
    observations: list[pd.DataFrame]
    banks: list[ActionBank]
    new_banks: list[ActionBank | None]
    ground_truth_evaluations: list[dict]
    algorithm_results: list[dict]

    def save(self, path, observations_format: str = "parquet", *, overwrite: bool = False) -> Path:
        """Write the seed's results layout, atomically.

        ``simulation_config.json``, ``initialization/`` and per iteration
        ``observations``, ``action_bank.json``, ``ground_truth_evaluation.json``,
        ``algorithm_results.json`` and ``new_action_bank.json``, then
        ``complete_simulation_results.json``.

        Parameters
        ----------
        path : str or Path
            A new (or empty) directory.
        observations_format : {"parquet", "csv"}, default="parquet"
        overwrite : bool, default=False
            Replace ``path`` if it holds a previous run's results (that
            layout and nothing else); any other directory is refused all
            the same. The old results are removed only once the new ones
            are in place.

        Returns
        -------
        path : Path
        """
        if observations_format not in ("parquet", "csv"):
            raise ValueError(
                f"observations_format must be 'parquet' or 'csv', got {observations_format!r}."
            )
        with atomic_directory(path, "path", **results_directory_policy(overwrite)) as tmp:
            write_json(self.config, tmp / "simulation_config.json")
            self.banks[0].to_json(tmp / "initialization" / "action_bank.json")
            write_json(
                {
                    "n_initial_actions": len(self.banks[0]),
                    "embedding_dim": self.banks[0].embedding_dim,
                },
                tmp / "initialization" / "initialization_summary.json",
            )
            for i, obs in enumerate(self.observations):
                folder = tmp / f"iteration_{i}"
                _write_table(obs, folder / "observations", observations_format)
                self.banks[i].to_json(folder / "action_bank.json")
                write_json(
                    self.ground_truth_evaluations[i], folder / "ground_truth_evaluation.json"
                )
                write_json(self.algorithm_results[i], folder / "algorithm_results.json")
                if self.new_banks[i] is not None:
                    self.new_banks[i].to_json(folder / "new_action_bank.json")
            summary = {
                "config": self.config,
                "iterations": self.iterations.to_dict(orient="records"),
            }
            # Unsorted: the records keep the iterations table's column order.
            write_json(summary, tmp / "complete_simulation_results.json", sort_keys=False)
        return Path(path)

    @classmethod
    def load(cls, path) -> SimulationResults:
        """Read a results directory written by :meth:`save`."""
        root = Path(path)
        complete = root / "complete_simulation_results.json"
        if not complete.exists():
            raise ValueError(
                f"{str(root)!r} is not a complete results directory "
                "(no complete_simulation_results.json)."
            )
        read = _Reader(root, "results")
        summary = read(_read_json, complete)
        try:
            config, records = summary["config"], summary["iterations"]
            iterations = pd.DataFrame(records)
            n = len(records)
        except (KeyError, TypeError, ValueError) as error:
            raise read.damaged(complete, error) from error
        banks, new_banks, observations, evaluations, algorithm_results = [], [], [], [], []
        for i in range(n):
            folder = root / f"iteration_{i}"
            banks.append(read(ActionBank.from_json, folder / "action_bank.json"))
            new_file = folder / "new_action_bank.json"
            new_banks.append(read(ActionBank.from_json, new_file) if new_file.exists() else None)
            observations.append(read(_read_table, _table_file(folder / "observations")))
            evaluations.append(read(_read_json, folder / "ground_truth_evaluation.json"))
            algorithm_results.append(read(_read_json, folder / "algorithm_results.json"))
        return cls(
            config=config,
            iterations=iterations,
            observations=observations,
            banks=banks,
            new_banks=new_banks,
            ground_truth_evaluations=evaluations,
            algorithm_results=algorithm_results,
        )

    def plot_learning_curve(self, ax=None):
        """Company reward per iteration, against the oracle and random targeting.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional

        Returns
        -------
        ax : matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        it = self.iterations
        x = it["iteration"].to_numpy()
        ax.plot(x, it["oracle_reward"], "k--", label="oracle (best action per user)")
        ax.plot(x, it["expected_reward"], "o-", label="strategy (true expected reward)")
        ax.plot(x, it["company_reward"], "s:", alpha=0.7, label="strategy (observed click rate)")
        ax.plot(x, it["best_single_action_reward"], "k:", label="best single action for all")
        ax.plot(x, it["random_reward"], color="0.6", label="random targeting")
        ax.set_xlabel("iteration")
        ax.set_ylabel("click rate")
        ax.set_xticks(x)
        ax.legend(fontsize="small")
        return ax
