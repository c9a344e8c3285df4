"""Action banks: marketing actions as ids, texts and embeddings.

An action is one email a company can send (a subject and a body). The
simulator, the ground truth and the strategies all exchange actions as an
:class:`ActionBank`; :func:`make_action_bank` embeds texts into one. New
texts come from :class:`~hillmix_sim.LLMActionGenerator` or, offline and
reproducibly, from :class:`~hillmix_sim.TemplateActionGenerator`.
"""

from __future__ import annotations

import json
import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hillmix._typing import ArrayLike

from .._files import atomic_file
from ._protocols import Embedder
from ._texts import check_texts

__all__ = ["ActionBank", "make_action_bank"]


def _lookup_ids(action_ids) -> np.ndarray:
    """Ids to look up, as int64: integers, or integral floats; anything else refused."""
    ids = np.asarray(action_ids)
    if ids.dtype == bool or not (
        np.issubdtype(ids.dtype, np.integer) or np.issubdtype(ids.dtype, np.floating)
    ):
        raise TypeError(f"action_ids must be integers, got dtype {ids.dtype}.")
    ids = ids.ravel()
    if ids.dtype.kind == "f":
        # A cast would truncate: 3.7 would find the action 3.
        bad = ~np.isfinite(ids) | (ids != np.round(ids))
        if np.any(bad):
            raise TypeError(
                f"action_ids must be integers, got non-integral values {ids[bad][:10].tolist()}."
            )
    if ids.size and (
        (ids.dtype.kind == "u" and ids.max() > np.iinfo(np.int64).max)
        or (ids.dtype.kind == "f" and not np.all((ids >= -(2.0**63)) & (ids < 2.0**63)))
    ):
        raise ValueError(f"action_ids must fit in int64; got values up to {ids.max()}.")
    return ids.astype(np.int64)


@dataclass(frozen=True, eq=False, repr=False)
class ActionBank:
    """The actions a company can send: ids, texts and embeddings, row-aligned.

    Immutable: the arrays are stored as read-only copies, and every
    operation returns a new bank. Action ids identify an action across
    banks, so what a strategy learned about an action survives a change of
    bank.

    Parameters
    ----------
    action_ids : array-like of int of shape (n_actions,)
        Distinct ids; stored as int64.
    texts : sequence of str of length n_actions
        The actions' texts ("Subject: ... | Body: ...").
    embeddings : array-like of shape (n_actions, embedding_dim)
        Finite; stored as float64.

    Raises
    ------
    ValueError
        An empty bank, lengths that differ, duplicate ids, embeddings that
        are not 2-D or not finite.
    TypeError
        Non-integer ids or non-str texts.

    See Also
    --------
    make_action_bank : Embed texts into a bank.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_sim import ActionBank
    >>> bank = ActionBank(
    ...     action_ids=[10, 11, 12],
    ...     texts=["Subject: A | Body: a", "Subject: B | Body: b", "Subject: C | Body: c"],
    ...     embeddings=np.eye(3),
    ... )
    >>> len(bank), bank.embedding_dim
    (3, 3)
    >>> bank.take([2, 0]).action_ids
    array([12, 10])
    >>> ActionBank.from_dict(bank.to_dict()) == bank
    True
    """

    action_ids: np.ndarray
    texts: tuple[str, ...]
    embeddings: np.ndarray

    def __post_init__(self):
        ids = np.asarray(self.action_ids)
        if ids.ndim != 1:
            raise ValueError(
                f"action_ids must be 1-D of shape (n_actions,), got shape {ids.shape}."
            )
        if ids.size == 0:
            raise ValueError("The action bank is empty: action_ids has no entries.")
        if ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"action_ids must be integers, got dtype {ids.dtype}.")
        if ids.dtype.kind == "u" and ids.max() > np.iinfo(np.int64).max:
            raise ValueError(
                f"action_ids must fit in int64 (below 2**63), got {ids.max()}; map larger ids "
                "(such as unsigned 64-bit hashes) to smaller ones."
            )
        ids = ids.astype(np.int64)

        if isinstance(self.texts, str):
            raise TypeError("texts must be a sequence of str, got a single str.")
        texts = tuple(self.texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] must be a str, got {type(text).__name__}.")
        texts = tuple(str(text) for text in texts)

        try:
            emb = np.asarray(self.embeddings, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"embeddings must be an array of numbers: {exc}") from exc
        if emb.ndim != 2:
            raise ValueError(
                "embeddings must be 2-D of shape (n_actions, embedding_dim), "
                f"got {emb.ndim}-D of shape {emb.shape}."
            )
        if emb.shape[1] == 0:
            raise ValueError("embeddings have no columns: embedding_dim must be at least 1.")

        if not len(ids) == len(texts) == len(emb):
            raise ValueError(
                "action_ids, texts and embeddings must have one entry per action, got "
                f"{len(ids)} action_ids, {len(texts)} texts and {len(emb)} embedding rows."
            )
        unique, counts = np.unique(ids, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(
                f"action_ids must be distinct; repeated: {unique[counts > 1].tolist()}."
            )
        bad_rows = np.flatnonzero(~np.isfinite(emb).all(axis=1))
        if bad_rows.size:
            raise ValueError(
                f"embeddings must be finite; NaN or infinity in rows {bad_rows[:10].tolist()}."
            )

        ids = ids.copy()
        emb = emb.copy()
        ids.flags.writeable = False
        emb.flags.writeable = False
        object.__setattr__(self, "action_ids", ids)
        object.__setattr__(self, "texts", texts)
        object.__setattr__(self, "embeddings", emb)

    # -- basics ---------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.action_ids.shape[0])

    @property
    def embedding_dim(self) -> int:
        """Length of the embeddings."""
        return int(self.embeddings.shape[1])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActionBank):
            return NotImplemented
        return (
            self.texts == other.texts
            and np.array_equal(self.action_ids, other.action_ids)
            and np.array_equal(self.embeddings, other.embeddings)
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):
        # Through the constructor, so an unpickled bank is validated and its
        # arrays are read-only again.
        return (type(self), (self.action_ids, self.texts, self.embeddings))

    def __repr__(self) -> str:
        ids = np.array2string(self.action_ids, threshold=6, edgeitems=2)
        return (
            f"ActionBank(n_actions={len(self)}, embedding_dim={self.embedding_dim}, "
            f"action_ids={ids})"
        )

    # -- selection ----------------------------------------------------------
    def take(self, indices: ArrayLike) -> ActionBank:
        """The actions at some positions, as a new bank.

        Parameters
        ----------
        indices : array-like of int, or boolean mask of shape (n_actions,)
            Positions (not ids) in this bank.

        Returns
        -------
        bank : ActionBank
        """
        idx = np.atleast_1d(np.asarray(indices))
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"A boolean mask must have shape ({len(self)},), got {idx.shape}.")
            idx = np.flatnonzero(idx)
        elif idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"indices must be integers or a boolean mask, got dtype {idx.dtype}.")
        idx = idx.astype(np.intp)
        return ActionBank(
            action_ids=self.action_ids[idx],
            texts=tuple(self.texts[i] for i in idx),
            embeddings=self.embeddings[idx],
        )

    def index_of(self, action_ids: ArrayLike) -> np.ndarray:
        """Positions of action ids in this bank.

        Parameters
        ----------
        action_ids : array-like of int of shape (n,)
            Integers; floats are accepted when integral (ids read back from
            a CSV log, say).

        Returns
        -------
        positions : ndarray of int64 of shape (n,)

        Raises
        ------
        KeyError
            An id that is not in the bank.
        TypeError
            Ids that are not integers (3.7 is not the id 3).
        ValueError
            Ids beyond int64.

        Examples
        --------
        >>> import numpy as np
        >>> from hillmix_sim import ActionBank
        >>> bank = ActionBank(action_ids=[7, 3], texts=["a", "b"], embeddings=np.eye(2))
        >>> bank.index_of([3, 7, 3])
        array([1, 0, 1])
        """
        wanted = _lookup_ids(action_ids)
        order = np.argsort(self.action_ids, kind="stable")
        pos = np.searchsorted(self.action_ids, wanted, sorter=order)
        pos = np.minimum(pos, len(self) - 1)
        found = order[pos]
        unknown = self.action_ids[found] != wanted
        if np.any(unknown):
            raise KeyError(f"Action ids not in the bank: {np.unique(wanted[unknown]).tolist()}.")
        return found.astype(np.int64)

    def concat(self, other: ActionBank) -> ActionBank:
        """This bank followed by another.

        Raises
        ------
        ValueError
            The banks share an id, or their embeddings differ in length.
        """
        if not isinstance(other, ActionBank):
            raise TypeError(f"Can only concat an ActionBank, got {type(other).__name__}.")
        if other.embedding_dim != self.embedding_dim:
            raise ValueError(
                "Cannot concat action banks whose embeddings differ in dimension: "
                f"this bank has embedding_dim={self.embedding_dim}, "
                f"the other has embedding_dim={other.embedding_dim}."
            )
        shared = np.intersect1d(self.action_ids, other.action_ids)
        if shared.size:
            raise ValueError(
                f"Cannot concat action banks that share action ids: {shared[:10].tolist()}."
            )
        return ActionBank(
            action_ids=np.concatenate([self.action_ids, other.action_ids]),
            texts=self.texts + other.texts,
            embeddings=np.vstack([self.embeddings, other.embeddings]),
        )

    # -- input and output -----------------------------------------------------
    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        """The bank as JSON-ready Python objects.

        Returns
        -------
        data : dict
            ``{"actions": [{"action_id": int, "text": str,
            "embedding": [float, ...]}, ...]}``.
        """
        return {
            "actions": [
                {"action_id": int(action_id), "text": text, "embedding": row.tolist()}
                for action_id, text, row in zip(
                    self.action_ids, self.texts, self.embeddings, strict=True
                )
            ]
        }

    @classmethod
    def from_dict(cls, data: dict | list) -> ActionBank:
        """A bank from :meth:`to_dict`'s layout (or its list of actions).

        Keys other than ``action_id``, ``text`` and ``embedding`` are ignored.
        """
        actions = data.get("actions") if isinstance(data, dict) else data
        if not isinstance(actions, list):
            raise ValueError(
                'An action bank must be {"actions": [{"action_id": ..., "text": ..., '
                f'"embedding": [...]}}, ...]}}; got {type(data).__name__} without that list.'
            )
        if not actions:
            raise ValueError("The action bank is empty: no actions in the data.")
        try:
            ids = [action["action_id"] for action in actions]
            texts = [action["text"] for action in actions]
            embeddings = [action["embedding"] for action in actions]
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"Every action needs 'action_id', 'text' and 'embedding'; missing {exc}."
            ) from exc
        lengths = {len(row) if isinstance(row, list) else -1 for row in embeddings}
        if len(lengths) != 1 or -1 in lengths:
            raise ValueError(
                f"Every embedding must be a list of the same length; got lengths {sorted(lengths)}."
            )
        return cls(action_ids=np.asarray(ids), texts=tuple(texts), embeddings=embeddings)

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the bank to a JSON file, one action a line.

        Floats are written at full (``repr``) precision, so :meth:`from_json`
        gives back identical arrays. The file is replaced atomically and
        missing parent directories are created.
        """
        lines = [json.dumps(action, ensure_ascii=False) for action in self.to_dict()["actions"]]
        text = '{"actions": [\n  ' + ",\n  ".join(lines) + "\n]}\n"
        with atomic_file(path) as tmp:
            tmp.write_text(text, encoding="utf-8")

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> ActionBank:
        """Read a bank written by :meth:`to_json`."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def to_frame(self) -> pd.DataFrame:
        """The ids and texts as a DataFrame with columns ``action_id``, ``text``."""
        return pd.DataFrame({"action_id": self.action_ids.copy(), "text": list(self.texts)})


def make_action_bank(texts: Sequence[str], embedder: Embedder, start_id: int = 0) -> ActionBank:
    """Embed texts into an action bank with consecutive ids.

    Parameters
    ----------
    texts : sequence of str of length n_actions
        The actions' texts.
    embedder : object with ``embed(texts) -> ndarray``
        :class:`~hillmix_sim.OpenAIEmbedder`, :class:`~hillmix_sim.HashingEmbedder`, ...
    start_id : int, default=0
        Id of the first action; the others follow. To add actions to an
        existing bank, start after its largest id.

    Returns
    -------
    bank : ActionBank

    Examples
    --------
    >>> from hillmix_sim import HashingEmbedder, TemplateActionGenerator, make_action_bank
    >>> texts = TemplateActionGenerator(random_state=0).generate(5)
    >>> bank = make_action_bank(texts, HashingEmbedder(n_features=32), start_id=100)
    >>> bank.action_ids
    array([100, 101, 102, 103, 104])
    >>> bank.embeddings.shape
    (5, 32)
    """
    texts = check_texts(texts)
    if not isinstance(start_id, numbers.Integral) or isinstance(start_id, bool):
        raise TypeError(f"start_id must be an int, got {type(start_id).__name__}.")
    embeddings = np.asarray(embedder.embed(texts), dtype=np.float64)
    if embeddings.ndim != 2 or embeddings.shape[0] != len(texts):
        raise ValueError(
            f"The embedder returned shape {embeddings.shape} for {len(texts)} texts; "
            f"expected ({len(texts)}, embedding_dim)."
        )
    return ActionBank(
        action_ids=np.arange(start_id, start_id + len(texts), dtype=np.int64),
        texts=tuple(texts),
        embeddings=embeddings,
    )
