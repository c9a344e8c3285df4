"""Action texts: how they are checked, and when two count as the same action."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

__all__ = ["check_exclude", "check_n", "check_texts", "normalise"]


def normalise(text: str) -> str:
    """The form in which two texts count as the same action: case and spacing ignored."""
    return " ".join(text.casefold().split())


def check_texts(texts, name: str = "texts") -> list[str]:
    """``texts`` as a non-empty list of non-blank str, or a clear error."""
    if isinstance(texts, str | bytes):
        raise TypeError(
            f"{name} must be a sequence of str, got a single {type(texts).__name__}; "
            "wrap it in a list."
        )
    if not isinstance(texts, Iterable):
        raise TypeError(f"{name} must be a sequence of str, got {type(texts).__name__}.")
    items = list(texts)
    if not items:
        raise ValueError(f"{name} is empty: at least one text is needed.")
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(text).__name__}.")
        if not text.strip():
            raise ValueError(f"{name}[{i}] is empty or only whitespace.")
    return [str(text) for text in items]


def check_n(n) -> int:
    """``n``, the number of texts to generate, as an int of at least 1."""
    if not isinstance(n, numbers.Integral) or isinstance(n, bool):
        raise TypeError(f"n must be an int, got {type(n).__name__}.")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    return int(n)


def check_exclude(exclude) -> list[str]:
    """``exclude``, texts a generator must not produce, as a list of str."""
    if isinstance(exclude, str):
        raise TypeError("exclude must be an iterable of str, got a single str.")
    items = list(exclude)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"exclude[{i}] must be a str, got {type(text).__name__}.")
    return items
