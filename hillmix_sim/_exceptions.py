"""Warnings and errors of the simulators' external services."""

__all__ = ["FallbackWarning", "OpenAIUnavailableError"]


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
