"""Action banks: marketing actions as ids, texts and embeddings, and their generators.

An action is one email a company can send (a subject and a body). The
simulator, the ground truth and the strategies all exchange actions as an
:class:`ActionBank`. New action texts come from an LLM
(:class:`LLMActionGenerator`) or, offline and reproducibly, from
:class:`TemplateActionGenerator`; :func:`make_action_bank` embeds them.
"""

from __future__ import annotations

import functools
import json
import numbers
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from hillmix._typing import ArrayLike, RandomStateLike
from hillmix.utils import check_generator

from ._embedding import _check_texts
from ._exceptions import FallbackWarning, OpenAIUnavailableError
from ._files import atomic_file
from ._openai import MalformedResponseError, call_with_retries, make_client

__all__ = [
    "ActionBank",
    "LLMActionGenerator",
    "TemplateActionGenerator",
    "make_action_bank",
]


class _Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class _TextGenerator(Protocol):
    def generate(self, n: int, exclude: Iterable[str] = ()) -> list[str]: ...


def _normalise(text: str) -> str:
    """The form in which two texts count as the same action."""
    return " ".join(text.casefold().split())


# --------------------------------------------------------------------------
# The bank
# --------------------------------------------------------------------------


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

        Returns
        -------
        positions : ndarray of int64 of shape (n,)

        Raises
        ------
        KeyError
            An id that is not in the bank.

        Examples
        --------
        >>> import numpy as np
        >>> from hillmix_sim import ActionBank
        >>> bank = ActionBank(action_ids=[7, 3], texts=["a", "b"], embeddings=np.eye(2))
        >>> bank.index_of([3, 7, 3])
        array([1, 0, 1])
        """
        wanted = np.asarray(action_ids, dtype=np.int64).ravel()
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


def make_action_bank(texts: Sequence[str], embedder: _Embedder, start_id: int = 0) -> ActionBank:
    """Embed texts into an action bank with consecutive ids.

    Parameters
    ----------
    texts : sequence of str of length n_actions
        The actions' texts.
    embedder : object with ``embed(texts) -> ndarray``
        :class:`~hillmix_sim.ActionEmbedder`, :class:`~hillmix_sim.HashingEmbedder`, ...
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
    texts = _check_texts(texts)
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


# --------------------------------------------------------------------------
# Template generator
# --------------------------------------------------------------------------

# Product categories, each with items and the free gift that suits it.
_CATEGORIES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("running shoes", ("trail runners", "road racers", "everyday trainers"), "pair of socks"),
    ("outdoor gear", ("two-person tents", "hiking packs", "rain shells"), "water bottle"),
    (
        "skincare",
        ("vitamin C serums", "night creams", "SPF 50 moisturisers"),
        "travel-size cleanser",
    ),
    ("coffee", ("single-origin beans", "espresso pods", "cold-brew kits"), "ceramic mug"),
    ("home fitness", ("adjustable dumbbells", "yoga mats", "resistance bands"), "workout towel"),
    ("kitchenware", ("cast-iron pans", "chef's knives", "stand mixers"), "silicone spatula"),
    ("headphones", ("noise-cancelling headphones", "wireless earbuds"), "carry case"),
    ("kids' clothing", ("winter coats", "school shoes", "pyjama sets"), "sticker pack"),
    ("pet supplies", ("grain-free kibble", "orthopaedic dog beds", "cat trees"), "bag of treats"),
    ("books", ("bestselling thrillers", "new cookbooks", "picture books"), "bookmark set"),
    ("smart home", ("video doorbells", "smart bulbs", "smart speakers"), "smart plug"),
    ("travel", ("weekend city breaks", "carry-on suitcases", "beach getaways"), "luggage tag"),
    ("groceries", ("organic vegetable boxes", "fresh bakery bread", "meal kits"), "tote bag"),
    ("wine", ("organic reds", "sparkling wines", "mixed cases"), "bottle opener"),
    ("furniture", ("sofa beds", "oak dining tables", "office chairs"), "cushion cover"),
    ("beauty", ("long-wear lipsticks", "fragrance minis", "hair-care sets"), "makeup bag"),
)

_TONES = ("friendly", "urgent", "exclusive", "playful", "informative", "premium")

_URGENCY = (
    None,
    "today only",
    "until midnight",
    "for the next 48 hours",
    "this weekend only",
    "while stocks last",
    "until Sunday",
)

_PERSONALISATION = ("none", "first_name", "browsing", "loyalty", "location")

_CHANNEL_CUES = (
    "Shop now in the app.",
    "Tap to redeem on your phone.",
    "Show this email at your nearest store.",
    "Order online with free returns.",
    "Use code {code} at checkout.",
    "Reply to this email to reserve yours.",
    "Find it in your local store today.",
)


def _offer(rng: np.random.Generator, category: str, item: str, gift: str) -> tuple[str, str, str]:
    """An offer: the short phrase, a sentence about it, and a promo code."""
    kind = rng.integers(8)
    if kind == 0:
        depth = int(rng.choice([10, 15, 20, 25, 30, 40, 50]))
        return f"{depth}% off {category}", f"Take {depth}% off all {category}.", f"SAVE{depth}"
    if kind == 1:
        depth = int(rng.choice([5, 10, 15, 20, 25, 50]))
        minimum = depth * int(rng.choice([3, 4, 5]))
        return (
            f"${depth} off your next order",
            f"Get ${depth} off any {category} order over ${minimum}.",
            f"TAKE{depth}",
        )
    if kind == 2:
        second = str(rng.choice(["free", "half price"]))
        return (
            f"buy one, get one {second}",
            f"Buy one and get the second {second} on selected {item}.",
            "BOGO",
        )
    if kind == 3:
        minimum = int(rng.choice([0, 25, 35, 50]))
        condition = "on every order" if minimum == 0 else f"on orders over ${minimum}"
        return "free shipping", f"Enjoy free shipping {condition}.", "SHIPFREE"
    if kind == 4:
        depth = int(rng.choice([10, 15, 20, 25]))
        return (
            f"{depth}% off bundles",
            f"Bundle any two {category} items and save {depth}%.",
            f"BUNDLE{depth}",
        )
    if kind == 5:
        multiple = int(rng.choice([2, 3, 5]))
        return (
            f"{multiple}x loyalty points",
            f"Earn {multiple}x loyalty points on every {category} purchase.",
            f"POINTS{multiple}X",
        )
    if kind == 6:
        hours = int(rng.choice([12, 24, 48]))
        return (
            "early access to our sale",
            f"Shop the {category} sale {hours} hours before everyone else.",
            "EARLY",
        )
    return (
        f"a free {gift}",
        f"Get a free {gift} with any {category} purchase.",
        "GIFT",
    )


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _subject(tone: str, variant: int, offer: str, item: str, category: str, urgency) -> str:
    urgent = urgency or "ending soon"
    subjects = {
        "friendly": (
            f"{_cap(offer)} on {item}",
            f"A little treat for you: {offer}",
            f"Your {category} picks, now with {offer}",
        ),
        "urgent": (
            f"{_cap(urgent)}: {offer}",
            f"Last chance for {offer} on {item}",
            f"Hurry, {offer} ends soon",
        ),
        "exclusive": (
            f"Members only: {offer}",
            f"Your private invitation: {offer} on {category}",
            f"Just for you, {offer}",
        ),
        "playful": (
            f"Treat yourself: {offer}",
            f"Psst… {offer} on {item}",
            f"Oh hello, {offer}!",
        ),
        "informative": (
            f"New in {category}: {offer}",
            f"{_cap(item)} are back in stock, with {offer}",
            f"This week in {category}: {offer}",
        ),
        "premium": (
            f"Discover our finest {item}, with {offer}",
            f"Crafted {category}, now with {offer}",
            f"The {category} edit: {offer}",
        ),
    }[tone]
    subject = subjects[variant % len(subjects)]
    if urgency and tone != "urgent":
        subject += f" ({urgency})"
    return subject


_OPENERS = {
    "friendly": ("We thought you'd like this.", "Good news from us."),
    "urgent": ("Don't miss out.", "Time is running out."),
    "exclusive": ("You're on our members' list.", "This offer isn't on our website."),
    "playful": ("Go on, you deserve it.", "Your basket is calling."),
    "informative": ("Here is what's new this week.", "Our latest range has just landed."),
    "premium": ("Made to last, chosen with care.", "Quality you can feel."),
}

_GREETINGS = {
    "none": "",
    "first_name": "Hi {first_name}! ",
    "browsing": "Because you browsed {category} recently, we picked this for you. ",
    "loyalty": "Thank you for being one of our valued members. ",
    "location": "Hello from your {city} store team. ",
}


class TemplateActionGenerator:
    """Varied marketing email texts from templates, offline and reproducible.

    Each text combines a product category and item, an offer type and depth
    (percentage or amount off, buy-one-get-one, free shipping, bundles,
    loyalty points, early access, a free gift), a tone, an urgency, a
    personalisation and a channel cue, rendered as
    ``"Subject: ... | Body: ..."``. Merge tags such as ``{first_name}`` are
    left in the text, as in a real email template. Millions of distinct
    texts are possible.

    Parameters
    ----------
    random_state : int, numpy.random.Generator or None, default=None
        Seeds :meth:`generate`: the same int gives the same texts on every
        call; a Generator is advanced; ``None`` draws fresh entropy.

    See Also
    --------
    LLMActionGenerator : Texts from a chat model, falling back to this class.

    Examples
    --------
    >>> from hillmix_sim import TemplateActionGenerator
    >>> gen = TemplateActionGenerator(random_state=0)
    >>> texts = gen.generate(3)
    >>> len(set(texts)), texts == gen.generate(3)
    (3, True)
    >>> texts[0].startswith("Subject: ") and " | Body: " in texts[0]
    True
    >>> new = gen.generate(3, exclude=texts)
    >>> set(new) & set(texts)
    set()
    """

    def __init__(self, *, random_state: RandomStateLike = None):
        self.random_state = random_state

    def generate(self, n: int, exclude: Iterable[str] = ()) -> list[str]:
        """Draw ``n`` distinct texts.

        Parameters
        ----------
        n : int
            Number of texts, at least 1.
        exclude : iterable of str, default=()
            Texts not to produce (compared ignoring case and spacing), such
            as the current bank.

        Returns
        -------
        texts : list of str of length n
        """
        n = _check_n(n)
        rng = check_generator(self.random_state)
        seen = {_normalise(text) for text in _check_exclude(exclude)}
        texts: list[str] = []
        # Far more attempts than a healthy draw needs; only an n near the
        # number of possible texts comes close.
        max_attempts = 50 * n + 1000
        for _ in range(max_attempts):
            text = self._draw(rng)
            key = _normalise(text)
            if key not in seen:
                seen.add(key)
                texts.append(text)
                if len(texts) == n:
                    return texts
        raise ValueError(
            f"Could only draw {len(texts)} distinct texts of the {n} asked for "
            f"in {max_attempts} attempts; ask for fewer or exclude fewer."
        )

    @staticmethod
    def _draw(rng: np.random.Generator) -> str:
        category, items, gift = _CATEGORIES[rng.integers(len(_CATEGORIES))]
        item = items[rng.integers(len(items))]
        tone = _TONES[rng.integers(len(_TONES))]
        # Two emails in five carry no deadline at all.
        urgency = None if rng.random() < 0.4 else _URGENCY[1 + rng.integers(len(_URGENCY) - 1)]
        personal = _PERSONALISATION[rng.integers(len(_PERSONALISATION))]
        cue = _CHANNEL_CUES[rng.integers(len(_CHANNEL_CUES))]
        variant = int(rng.integers(3))
        offer, sentence, code = _offer(rng, category, item, gift)

        subject = _subject(tone, variant, offer, item, category, urgency)
        if personal == "first_name":
            subject = "{first_name}, " + subject[:1].lower() + subject[1:]
        greeting = _GREETINGS[personal].replace("{category}", category)
        opener = _OPENERS[tone][variant % 2]
        body = f"{greeting}{opener} {sentence}"
        if urgency:
            body += f" Offer valid {urgency}."
        body += " " + cue.replace("{code}", code)
        return f"Subject: {subject} | Body: {body}"

    def __repr__(self) -> str:
        return f"TemplateActionGenerator(random_state={self.random_state!r})"


def _check_n(n) -> int:
    if not isinstance(n, numbers.Integral) or isinstance(n, bool):
        raise TypeError(f"n must be an int, got {type(n).__name__}.")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    return int(n)


def _check_exclude(exclude) -> list[str]:
    if isinstance(exclude, str):
        raise TypeError("exclude must be an iterable of str, got a single str.")
    items = list(exclude)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"exclude[{i}] must be a str, got {type(text).__name__}.")
    return items


# --------------------------------------------------------------------------
# LLM generator
# --------------------------------------------------------------------------

_SYSTEM_PROMPT = (
    "You are an experienced email marketer writing for {context}. You write short, "
    "concrete, varied marketing emails. You reply with a JSON array of strings and "
    "nothing else."
)

_USER_PROMPT = (
    "Write exactly {k} distinct marketing emails. Each must be one string of the form "
    "'Subject: <subject line> | Body: <one to three sentences>'. Vary the product "
    "category, the offer (percentage or amount off, free shipping, buy-one-get-one, "
    "bundles, loyalty points, early access, a free gift) and its depth, the tone, the "
    "urgency, the personalisation and the call to action (app, website, store).{avoid}"
    " Reply with a JSON array of exactly {k} strings."
)

# Texts already produced that are quoted back to the model so that it does
# not repeat them; more would only lengthen the prompt.
_MAX_AVOID = 30

_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


def _item_text(item) -> str | None:
    if isinstance(item, str):
        return item.strip() or None
    if isinstance(item, dict):
        lowered = {str(k).lower(): v for k, v in item.items()}
        subject, body = lowered.get("subject"), lowered.get("body")
        if isinstance(subject, str) and isinstance(body, str):
            return f"Subject: {subject.strip()} | Body: {body.strip()}"
        text = lowered.get("text")
        if isinstance(text, str):
            return text.strip() or None
    return None


def _parse_texts(content: str) -> list[str]:
    """Action texts in a chat reply: a JSON array, possibly wrapped or fenced.

    Accepts a JSON array of strings or of ``{"subject", "body"}`` objects,
    an object holding such an array, text around the array (code fences, a
    preamble), and, failing JSON, lines starting with "Subject:".
    """
    stripped = _FENCE.sub("", content.strip())
    candidates = [stripped]
    start, end = stripped.find("["), stripped.rfind("]")
    if 0 <= start < end:
        candidates.append(stripped[start : end + 1])
    for candidate in candidates:
        try:
            payload = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(payload, dict):
            payload = next((v for v in payload.values() if isinstance(v, list)), None)
        if isinstance(payload, list):
            texts = [t for t in map(_item_text, payload) if t]
            if texts:
                return texts
    lines = (_BULLET.sub("", line).strip().strip('",') for line in stripped.splitlines())
    return [line for line in lines if line.lower().startswith("subject:")]


class LLMActionGenerator:
    """Marketing email texts from a chat model, with the template generator as fallback.

    Asks an OpenAI chat model (through the official ``openai`` client) for
    a JSON array of texts, ``batch_size`` at a time; parses the reply
    leniently, drops texts already produced or excluded (ignoring case and
    spacing), and asks again for the shortfall. A request that meets a rate
    limit (429), a server error (5xx), a timeout or an unreadable reply is
    retried up to ``max_retries`` times after ``backoff * 2**attempt``
    seconds.

    Without a key, without the ``openai`` package, once the retries are
    exhausted, or when ``max_rounds`` requests still leave texts missing,
    it warns once (:class:`FallbackWarning`) and the fallback writes the
    remaining texts.

    Parameters
    ----------
    model : str, default="gpt-4o-mini"
        Chat model.
    base_url : str or None, default=None
        API address; ``None`` reads ``OPENAI_BASE_URL``, else OpenAI's.
    api_key : str or None, default=None
        API key; ``None`` reads ``OPENAI_API_KEY``; ``""`` means no key
        (straight to the fallback), whatever the environment holds.
    temperature : float, default=1.0
        Sampling temperature; high, for variety.
    max_retries : int, default=5
        Retries of one request after the first attempt.
    backoff : float, default=0.5
        Seconds before the first retry; doubled for each later one.
    timeout : float, default=60.0
        Seconds to wait for one reply.
    batch_size : int, default=25
        Texts asked for in one request.
    max_rounds : int or None, default=None
        Requests (not counting retries) before the fallback fills the rest;
        ``None`` means ``2 * ceil(n / batch_size) + 2``.
    context : str, default="an online retailer of fashion, home, food and electronics"
        Who the emails are for, given to the model.
    fallback : "template", object with ``generate(n, exclude)`` or None, default="template"
        ``"template"`` is ``TemplateActionGenerator(random_state=random_state)``;
        ``None`` raises :class:`OpenAIUnavailableError` instead.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the template fallback.

    Attributes
    ----------
    backend_ : {"openai", "template", "openai+template"}
        Who wrote the texts of the last :meth:`generate`.
    n_requests_ : int
        Requests sent to the API, retries included.

    Examples
    --------
    Without a key the templates take over, with a warning:

    >>> import warnings
    >>> from hillmix_sim import LLMActionGenerator
    >>> gen = LLMActionGenerator(api_key="", random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     texts = gen.generate(4)
    >>> len(texts), gen.backend_, caught[0].category.__name__
    (4, 'template', 'FallbackWarning')
    """

    _parameter_constraints: dict = {
        "model": [str],
        "base_url": [str, None],
        "api_key": [str, None],
        "temperature": [Interval(numbers.Real, 0, 2, closed="both")],
        "max_retries": [Interval(numbers.Integral, 0, None, closed="left")],
        "backoff": [Interval(numbers.Real, 0, None, closed="left")],
        "timeout": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_rounds": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "context": [str],
        "fallback": [StrOptions({"template"}), HasMethods(["generate"]), None],
        "random_state": ["random_state", np.random.Generator],
    }

    def __init__(
        self,
        *,
        model: str = "gpt-4o-mini",
        base_url: str | None = None,
        api_key: str | None = None,
        temperature: float = 1.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        timeout: float = 60.0,
        batch_size: int = 25,
        max_rounds: int | None = None,
        context: str = "an online retailer of fashion, home, food and electronics",
        fallback: str | _TextGenerator | None = "template",
        random_state: RandomStateLike = None,
    ):
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.temperature = temperature
        self.max_retries = max_retries
        self.backoff = backoff
        self.timeout = timeout
        self.batch_size = batch_size
        self.max_rounds = max_rounds
        self.context = context
        self.fallback = fallback
        self.random_state = random_state

    def generate(self, n: int, exclude: Iterable[str] = ()) -> list[str]:
        """Produce ``n`` distinct texts.

        Parameters
        ----------
        n : int
            Number of texts, at least 1.
        exclude : iterable of str, default=()
            Texts not to produce (compared ignoring case and spacing).

        Returns
        -------
        texts : list of str of length n

        Raises
        ------
        OpenAIUnavailableError
            The model could not deliver and ``fallback=None``.
        """
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            type(self).__name__,
        )
        n = _check_n(n)
        exclude = _check_exclude(exclude)
        self.__dict__.setdefault("n_requests_", 0)
        seen = {_normalise(text) for text in exclude}
        texts: list[str] = []
        max_rounds = self.max_rounds or 2 * -(-n // self.batch_size) + 2
        reason = None
        try:
            with make_client(
                api_key=self.api_key, base_url=self.base_url, timeout=self.timeout
            ) as client:
                for _ in range(max_rounds):
                    k = min(n - len(texts), self.batch_size)
                    avoid = (exclude + texts)[-_MAX_AVOID:]
                    reply = call_with_retries(
                        functools.partial(self._ask, client, k, avoid),
                        max_retries=int(self.max_retries),
                        backoff=float(self.backoff),
                        what=f"chat completion ({self.model}, {k} texts)",
                    )
                    for text in reply:
                        key = _normalise(text)
                        if key not in seen and len(texts) < n:
                            seen.add(key)
                            texts.append(text)
                    if len(texts) == n:
                        break
                else:
                    reason = (
                        f"the model gave {len(texts)} distinct texts of the {n} asked for "
                        f"in {max_rounds} requests"
                    )
        except OpenAIUnavailableError as exc:
            reason = str(exc)
        if reason is None:
            self.backend_ = "openai"
            return texts
        if self.fallback is None:
            raise OpenAIUnavailableError(reason)
        fallback = (
            TemplateActionGenerator(random_state=self.random_state)
            if isinstance(self.fallback, str)
            else self.fallback
        )
        warnings.warn(
            f"LLMActionGenerator: {reason}; {n - len(texts)} of the {n} texts come from "
            f"{fallback!r} instead of {self.model!r}.",
            FallbackWarning,
            stacklevel=2,
        )
        self.backend_ = "openai+template" if texts else "template"
        texts += list(fallback.generate(n - len(texts), exclude=exclude + texts))
        return texts

    def _ask(self, client, k: int, avoid: list[str]) -> list[str]:
        avoid_clause = ""
        if avoid:
            quoted = "\n".join(f"- {text}" for text in avoid)
            avoid_clause = f" Do not repeat or closely imitate any of these:\n{quoted}\n"
        self.n_requests_ += 1
        raw = client.chat.completions.with_raw_response.create(
            model=self.model,
            temperature=float(self.temperature),
            messages=[
                {"role": "system", "content": _SYSTEM_PROMPT.format(context=self.context)},
                {"role": "user", "content": _USER_PROMPT.format(k=k, avoid=avoid_clause)},
            ],
        )
        try:
            content = json.loads(raw.text)["choices"][0]["message"]["content"]
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise MalformedResponseError(f"unreadable chat completion: {exc}") from exc
        if not isinstance(content, str):
            raise MalformedResponseError("the chat completion has no text content")
        texts = _parse_texts(content)
        if not texts:
            raise MalformedResponseError(f"no action texts in the reply {content[:200]!r}")
        return texts

    def __repr__(self) -> str:
        return f"LLMActionGenerator(model={self.model!r}, fallback={self.fallback!r})"
