"""The OpenAI client of the simulators: key, client, a retry loop with backoff, and its errors.

The ``openai`` package is optional (``pip install 'hillmix[llm]'``) and is
imported only here, when a request is about to be made. The client is built
with ``max_retries=0``: retries happen in :func:`call_with_retries`, so their
number, their delays and the errors that trigger them are ours to set and to
test, and a fallback can take over once they are exhausted.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = [
    "FallbackWarning",
    "MalformedResponseError",
    "OpenAIUnavailableError",
    "call_with_retries",
    "make_client",
    "resolve_api_key",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# 408 and 409 are what the openai client itself retries besides 429 and 5xx.
_RETRY_STATUS = frozenset({408, 409, 429})
# A Retry-After beyond this is not waited for in full.
_MAX_DELAY = 60.0
# Module-level, so tests can record the delays without patching time.sleep
# for the whole process.
_sleep = time.sleep


class FallbackWarning(UserWarning):
    """An external service could not be used and a local substitute was.

    Raised once when :class:`~hillmix_sim.ActionEmbedder` or
    :class:`~hillmix_sim.LLMActionGenerator` has no API key, no ``openai``
    package, or has exhausted its retries, and goes on with its fallback
    (a local embedder, the template generator). The results are valid but
    come from a different model than the one asked for.
    """


class OpenAIUnavailableError(RuntimeError):
    """The OpenAI API could not be used and no fallback was allowed.

    Raised instead of :class:`FallbackWarning` when ``fallback=None``: no
    key, no ``openai`` package, or the retries were exhausted.
    """


class MalformedResponseError(ValueError):
    """A 2xx answer whose body is not the JSON the endpoint promises."""


def resolve_api_key(api_key: str | None) -> str | None:
    """The key given, else ``OPENAI_API_KEY``; ``None`` when neither is set."""
    key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
    return key or None


def make_client(*, api_key: str | None, base_url: str | None, timeout: float):
    """An ``openai.OpenAI`` client that does not retry by itself.

    Raises
    ------
    OpenAIUnavailableError
        Without a key or without the ``openai`` package.
    """
    key = resolve_api_key(api_key)
    if key is None:
        raise OpenAIUnavailableError("no OpenAI API key (pass api_key= or set OPENAI_API_KEY)")
    try:
        import openai
    except ImportError as exc:
        raise OpenAIUnavailableError(
            "the openai package is not installed (pip install 'hillmix[llm]')"
        ) from exc
    base_url = base_url if base_url is not None else os.environ.get("OPENAI_BASE_URL") or None
    return openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=0)


def _is_retryable(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, MalformedResponseError | openai.APIConnectionError):
        # APIConnectionError covers APITimeoutError.
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _RETRY_STATUS or exc.status_code >= 500
    return False


def _retry_after(exc: BaseException) -> float:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        return min(float(headers.get("retry-after", 0.0)), _MAX_DELAY)
    except (TypeError, ValueError):
        return 0.0


def call_with_retries(
    request: Callable[[], T], *, max_retries: int, backoff: float, what: str
) -> T:
    """Call ``request``, retrying transient failures with exponential backoff.

    Rate limits (429), server errors (5xx), 408 and 409, timeouts, lost
    connections and malformed bodies are retried after
    ``backoff * 2**attempt`` seconds (longer if the server sent a
    ``Retry-After``); other errors, such as a rejected key (401) or an
    unknown model (404), are configuration errors and propagate at once.

    Raises
    ------
    OpenAIUnavailableError
        When ``max_retries + 1`` attempts have all failed transiently.
    """
    for attempt in range(max_retries + 1):
        try:
            return request()
        except Exception as exc:
            if not _is_retryable(exc):
                raise
            if attempt == max_retries:
                raise OpenAIUnavailableError(
                    f"{what} failed {max_retries + 1} times, the last with "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            delay = min(max(backoff * 2.0**attempt, _retry_after(exc)), _MAX_DELAY)
            logger.info(
                "%s failed (%s: %s); retry %d of %d in %.2f s",
                what,
                type(exc).__name__,
                exc,
                attempt + 1,
                max_retries,
                delay,
            )
            _sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
