"""Marketing email texts from a chat model, with the template generator as fallback."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import numbers
import os
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from hillmix._typing import RandomStateLike

from .._files import write_json
from ._openai import (
    FallbackWarning,
    MalformedResponseError,
    OpenAIUnavailableError,
    call_with_retries,
    make_client,
)
from ._protocols import TextGenerator
from ._templates import TemplateActionGenerator
from ._texts import check_exclude, check_n, normalise

__all__ = ["LLMActionGenerator"]

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

_EXAMPLES = (
    " These emails worked well with our customers:\n{quoted}\nWrite variations of them: keep "
    "what makes them work, change the details (the item, the offer's depth, the wording, "
    "the tone, the call to action) and combine their best ideas."
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
    cache_dir : str, path or None, default=None
        Directory of an on-disk cache of replies, one JSON file per request
        (model, temperature, prompts and the request's place in the call):
        the same call made again reads its replies back and sends nothing.
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
        "cache_dir": [str, os.PathLike, None],
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
        cache_dir: str | os.PathLike | None = None,
        fallback: str | TextGenerator | None = "template",
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
        self.cache_dir = cache_dir
        self.fallback = fallback
        self.random_state = random_state

    def generate(
        self, n: int, exclude: Iterable[str] = (), examples: Iterable[str] = ()
    ) -> list[str]:
        """Produce ``n`` distinct texts.

        Parameters
        ----------
        n : int
            Number of texts, at least 1.
        exclude : iterable of str, default=()
            Texts not to produce (compared ignoring case and spacing).
        examples : iterable of str, default=()
            Texts that worked well: the model is asked for variations of
            them (at most 30 are quoted).

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
        n = check_n(n)
        exclude = check_exclude(exclude)
        examples = check_exclude(examples)[:_MAX_AVOID]
        self.__dict__.setdefault("n_requests_", 0)
        seen = {normalise(text) for text in exclude}
        texts: list[str] = []
        max_rounds = self.max_rounds or 2 * -(-n // self.batch_size) + 2
        reason = None
        try:
            with contextlib.ExitStack() as stack:
                client = None
                for round_ in range(max_rounds):
                    k = min(n - len(texts), self.batch_size)
                    # The examples are not to be avoided, even when excluded.
                    quoted = set(examples)
                    avoid = [t for t in exclude + texts if t not in quoted][-_MAX_AVOID:]
                    messages = self._messages(k, avoid, examples)
                    reply = self._cached(messages, round_)
                    if reply is None:
                        # The client is opened at the first miss: a call
                        # answered from the cache needs neither key nor network.
                        if client is None:
                            client = stack.enter_context(
                                make_client(
                                    api_key=self.api_key,
                                    base_url=self.base_url,
                                    timeout=self.timeout,
                                )
                            )
                        reply = call_with_retries(
                            functools.partial(self._ask, client, messages),
                            max_retries=int(self.max_retries),
                            backoff=float(self.backoff),
                            what=f"chat completion ({self.model}, {k} texts)",
                        )
                        self._store(messages, round_, reply)
                    for text in reply:
                        key = normalise(text)
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

    def _messages(self, k: int, avoid: list[str], examples: list[str]) -> list[dict]:
        avoid_clause = ""
        if examples:
            quoted = "\n".join(f"- {text}" for text in examples)
            avoid_clause += _EXAMPLES.format(quoted=quoted)
        if avoid:
            quoted = "\n".join(f"- {text}" for text in avoid)
            avoid_clause += f" Do not repeat or closely imitate any of these:\n{quoted}\n"
        return [
            {"role": "system", "content": _SYSTEM_PROMPT.format(context=self.context)},
            {"role": "user", "content": _USER_PROMPT.format(k=k, avoid=avoid_clause)},
        ]

    def _cache_path(self, messages, round_) -> Path | None:
        if self.cache_dir is None:
            return None
        # The endpoint too: another server under the same model name is
        # another model.
        base_url = self.base_url or os.environ.get("OPENAI_BASE_URL") or "api.openai.com"
        request = [base_url, self.model, float(self.temperature), messages, round_]
        key = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        return Path(self.cache_dir) / f"{key}.json"

    def _cached(self, messages, round_) -> list[str] | None:
        path = self._cache_path(messages, round_)
        if path is None or not path.is_file():
            return None
        try:
            texts = json.loads(path.read_text())
        except (OSError, ValueError):
            return None  # a damaged entry is a miss; the fresh reply overwrites it
        ok = isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts)
        return texts if ok else None

    def _store(self, messages, round_, texts) -> None:
        path = self._cache_path(messages, round_)
        if path is not None:
            write_json(texts, path)

    def _ask(self, client, messages: list[dict]) -> list[str]:
        self.n_requests_ += 1
        raw = client.chat.completions.with_raw_response.create(
            model=self.model,
            temperature=float(self.temperature),
            messages=messages,
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
