"""Candidate actions: variations of the best actions, written by a chat model or recombined.

An action-bank algorithm can only choose among the actions it has; good
new ones are most likely near the best old ones. :class:`CandidateGenerator`
writes ``n`` new texts from the parents it is given (best first): through
an OpenAI chat model asked for variations of them, or offline by
recombining and mutating their parts (a subject and body sentences, as in
the simulator's emails), with a share of wholly new template texts to keep
exploring. Texts are deduplicated against each other and against
``exclude`` (ignoring case and spacing).
"""

from __future__ import annotations

import numbers
import os
import re
from collections.abc import Sequence

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints

from hillmix._typing import RandomStateLike
from hillmix.utils import check_generator
from hillmix_sim import LLMActionGenerator, TemplateActionGenerator
from hillmix_sim.targeting._texts import check_exclude, check_n, check_texts, normalise

__all__ = ["CandidateGenerator"]

_SUBJECT, _BODY = "Subject: ", " | Body: "
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_parts(text: str) -> tuple[str | None, list[str]]:
    """A text's subject (None without one) and its body's sentences."""
    head, sep, body = text.partition(_BODY)
    if sep and head.startswith(_SUBJECT):
        return head[len(_SUBJECT) :], [s for s in _SENTENCE_END.split(body.strip()) if s]
    return None, [s for s in _SENTENCE_END.split(text.strip()) if s]


def join_parts(subject: str | None, sentences: Sequence[str]) -> str:
    """The text of a subject and sentences (the inverse of :func:`split_parts`)."""
    body = " ".join(sentences)
    return body if subject is None else f"{_SUBJECT}{subject}{_BODY}{body}"


class _Recombiner:
    """Children of parent texts: crossover of their parts, then mutation from donor texts."""

    def __init__(self, parents, donors, mutation_rate, rng):
        self.parents = [split_parts(t) for t in parents]
        self.donors = [split_parts(t) for t in donors]
        self.mutation_rate = mutation_rate
        self.rng = rng
        # Better parents breed more: weights falling linearly with rank.
        ranks = np.arange(len(parents), 0, -1, dtype=np.float64)
        self.weights = ranks / ranks.sum()

    def child(self) -> str:
        rng = self.rng
        i, j = rng.choice(len(self.parents), size=2, p=self.weights)
        (subject_a, body_a), (subject_b, body_b) = self.parents[i], self.parents[j]
        subject = subject_b if subject_b is not None and rng.random() < 0.5 else subject_a
        body = [
            body_b[k] if k < len(body_b) and rng.random() < 0.5 else sentence
            for k, sentence in enumerate(body_a)
        ]
        donor_subject, donor_body = self.donors[rng.integers(len(self.donors))]
        if subject is not None and donor_subject is not None and rng.random() < self.mutation_rate:
            subject = donor_subject
        for k in range(len(body)):
            if rng.random() < self.mutation_rate:
                body[k] = donor_body[rng.integers(len(donor_body))]
        if rng.random() < self.mutation_rate / 2:
            body.insert(int(rng.integers(len(body) + 1)), donor_body[rng.integers(len(donor_body))])
        return join_parts(subject, body)

    def __repr__(self) -> str:
        return "the offline recombination of the parents"

    def generate(self, n: int, exclude=()) -> list[str]:
        """``n`` distinct children, none in ``exclude`` (the fallback of the chat model too)."""
        seen = {normalise(t) for t in exclude}
        texts = []
        for _ in range(50 * n + 1000):
            text = self.child()
            key = normalise(text)
            if key not in seen:
                seen.add(key)
                texts.append(text)
                if len(texts) == n:
                    break
        return texts


class CandidateGenerator:
    """New candidate actions: variations of the best ones, by a chat model or offline.

    Parameters
    ----------
    backend : {"offline", "openai"}, default="offline"
        ``"offline"`` recombines the parents' parts (the subject from one
        parent, each body sentence from one or the other) and mutates them
        (a part replaced, or a sentence added, from a fresh template text,
        each with probability ``mutation_rate``). ``"openai"`` asks a chat
        model for variations of the parents (see
        :class:`hillmix_sim.LLMActionGenerator` for retries and the cache);
        if it fails part-way, the offline recombination writes the rest,
        with one :class:`hillmix_sim.FallbackWarning`, and every text already
        written is kept.
    model, base_url, api_key, timeout, max_retries, backoff, batch_size, cache_dir
        The chat model's settings, as in :class:`hillmix_sim.LLMActionGenerator`.
    mutation_rate : float in [0, 1], default=0.3
    exploration : float in [0, 1], default=0.1
        Share of the candidates that are new template texts, unrelated to
        the parents.
    random_state : int, numpy.random.Generator or None, default=None

    Attributes
    ----------
    backend_ : str
        Who wrote the last call's texts: ``"offline"``, ``"openai"`` or
        ``"openai+offline"``.

    Examples
    --------
    >>> from hillmix_opt import CandidateGenerator
    >>> parents = ["Subject: 20% off coffee | Body: Good news. Take 20% off all coffee.",
    ...            "Subject: Free shipping | Body: Don't miss out. Enjoy free shipping."]
    >>> texts = CandidateGenerator(random_state=0).generate(5, parents, exclude=parents)
    >>> len(set(texts)), any(t in parents for t in texts)
    (5, False)
    """

    _parameter_constraints: dict = {
        "backend": [StrOptions({"offline", "openai"})],
        "model": [str],
        "base_url": [str, None],
        "api_key": [str, None],
        "timeout": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_retries": [Interval(numbers.Integral, 0, None, closed="left")],
        "backoff": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "cache_dir": [str, os.PathLike, None],
        "mutation_rate": [Interval(numbers.Real, 0, 1, closed="both")],
        "exploration": [Interval(numbers.Real, 0, 1, closed="both")],
        "random_state": ["random_state", np.random.Generator],
    }

    def __init__(
        self,
        *,
        backend: str = "offline",
        model: str = "gpt-4o-mini",
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        batch_size: int = 25,
        cache_dir=None,
        mutation_rate: float = 0.3,
        exploration: float = 0.1,
        random_state: RandomStateLike = None,
    ):
        self.backend = backend
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.mutation_rate = mutation_rate
        self.exploration = exploration
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's parameters (so that ``clone`` copies the generator)."""
        return {name: getattr(self, name) for name in self._parameter_constraints}

    def set_params(self, **params) -> CandidateGenerator:
        """Set constructor parameters by name."""
        for name, value in params.items():
            if name not in self._parameter_constraints:
                raise ValueError(f"Invalid parameter {name!r} for {type(self).__name__}.")
            setattr(self, name, value)
        return self

    def generate(self, n: int, parents: Sequence[str], exclude=()) -> list[str]:
        """Write ``n`` new texts from ``parents``, best first.

        Parameters
        ----------
        n : int
            Texts to write, at least 1.
        parents : sequence of str
            The actions to vary, best first (the better, the more children).
        exclude : iterable of str, default=()
            Texts not to write (the current bank, say).

        Returns
        -------
        texts : list of str
            ``n`` distinct texts, none in ``exclude`` or ``parents``.
        """
        validate_parameter_constraints(
            self._parameter_constraints, self.get_params(), type(self).__name__
        )
        n = check_n(n)
        parents = check_texts(parents, "parents")
        exclude = [*check_exclude(exclude), *parents]
        rng = check_generator(self.random_state)
        n_fresh = round(self.exploration * n)
        templates = TemplateActionGenerator(random_state=rng)
        # Donors of mutated parts; also the new texts of the exploring share.
        donors = templates.generate(max(n_fresh, min(n, 200)) + 50, exclude=exclude)
        fresh, donors = donors[:n_fresh], donors[n_fresh:]
        recombiner = _Recombiner(parents, donors, float(self.mutation_rate), rng)
        exclude += fresh
        if self.backend == "openai":
            texts = self._ask_model(n - n_fresh, parents, exclude, recombiner, rng)
        else:
            texts = recombiner.generate(n - n_fresh, exclude=exclude)
            self.backend_ = "offline"
        texts = fresh + texts
        if len(texts) < n:  # the parents' parts ran out of new combinations
            texts += templates.generate(n - len(texts), exclude=exclude + texts)
        return texts

    def _ask_model(self, n, parents, exclude, recombiner, rng):
        llm = LLMActionGenerator(
            model=self.model,
            base_url=self.base_url,
            api_key=self.api_key,
            timeout=self.timeout,
            max_retries=self.max_retries,
            backoff=self.backoff,
            batch_size=self.batch_size,
            cache_dir=self.cache_dir,
            fallback=recombiner,
            random_state=rng,
        )
        texts = llm.generate(n, exclude=exclude, examples=parents)
        self.backend_ = {"openai": "openai", "template": "offline"}.get(
            llm.backend_, "openai+offline"
        )
        return texts

    def __repr__(self) -> str:
        return f"CandidateGenerator(backend={self.backend!r}, random_state={self.random_state!r})"
