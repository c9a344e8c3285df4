"""Action banks and the template and LLM action generators."""

import dataclasses
import json
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hillmix_sim.targeting._openai as openai_module
from hillmix_sim import (
    ActionBank,
    FallbackWarning,
    HashingEmbedder,
    LLMActionGenerator,
    OpenAIUnavailableError,
    TemplateActionGenerator,
    make_action_bank,
)
from hillmix_sim.targeting._llm import _parse_texts


def _bank(ids=(0, 1, 2), dim=4, seed=0):
    rng = np.random.default_rng(seed)
    return ActionBank(
        action_ids=np.asarray(ids),
        texts=tuple(f"Subject: offer {i} | Body: text {i}" for i in ids),
        embeddings=rng.standard_normal((len(ids), dim)),
    )


# -- ActionBank ---------------------------------------------------------------------


def test_bank_stores_read_only_typed_copies():
    ids = np.array([3, 1, 2], dtype=np.int32)
    emb = np.ones((3, 2), dtype=np.float32)
    bank = ActionBank(action_ids=ids, texts=["a", "b", "c"], embeddings=emb)
    assert bank.action_ids.dtype == np.int64 and bank.embeddings.dtype == np.float64
    assert bank.texts == ("a", "b", "c")
    assert len(bank) == 3 and bank.embedding_dim == 2
    ids[0] = 99
    assert bank.action_ids[0] == 3
    with pytest.raises(ValueError, match="read-only"):
        bank.embeddings[0, 0] = 5.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        bank.texts = ("x",)
    assert "n_actions=3" in repr(bank)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"action_ids": [], "texts": [], "embeddings": np.zeros((0, 2))}, ValueError, "empty"),
        ({"action_ids": [0, 1], "texts": ["a"], "embeddings": np.eye(2)}, ValueError, "1 texts"),
        (
            {"action_ids": [0, 1], "texts": ["a", "b"], "embeddings": np.eye(3)},
            ValueError,
            "3 embedding rows",
        ),
        (
            {"action_ids": [4, 4], "texts": ["a", "b"], "embeddings": np.eye(2)},
            ValueError,
            r"repeated: \[4\]",
        ),
        (
            {"action_ids": [0, 1], "texts": ["a", "b"], "embeddings": [[0.0, np.nan], [1, 1]]},
            ValueError,
            r"finite.*rows \[0\]",
        ),
        ({"action_ids": [0], "texts": ["a"], "embeddings": [1.0, 2.0]}, ValueError, "2-D"),
        ({"action_ids": [0.5], "texts": ["a"], "embeddings": [[1.0]]}, TypeError, "integers"),
        (  # an unsigned 64-bit hash would wrap to a negative id
            {"action_ids": [2**63 + 5], "texts": ["a"], "embeddings": [[1.0]]},
            ValueError,
            "fit in int64",
        ),
        ({"action_ids": [0], "texts": [7], "embeddings": [[1.0]]}, TypeError, r"texts\[0\]"),
        ({"action_ids": [0], "texts": "a", "embeddings": [[1.0]]}, TypeError, "single str"),
        ({"action_ids": [0], "texts": ["a"], "embeddings": [["x"]]}, TypeError, "embeddings"),
    ],
)
def test_bank_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        ActionBank(**kwargs)


def test_bank_pickles_through_the_constructor():
    bank = _bank()
    restored = pickle.loads(pickle.dumps(bank))
    assert restored == bank
    assert not restored.embeddings.flags.writeable


def test_take_and_index_of():
    bank = _bank(ids=(10, 20, 30, 40))
    sub = bank.take([3, 1])
    assert sub.action_ids.tolist() == [40, 20]
    assert sub.texts == (bank.texts[3], bank.texts[1])
    np.testing.assert_array_equal(sub.embeddings, bank.embeddings[[3, 1]])
    assert bank.take(np.array([True, False, True, False])).action_ids.tolist() == [10, 30]
    with pytest.raises(ValueError, match="boolean mask"):
        bank.take([True, False])
    with pytest.raises(ValueError, match="empty"):
        bank.take([])
    assert bank.index_of([30, 10, 30]).tolist() == [2, 0, 2]
    with pytest.raises(KeyError, match="25"):
        bank.index_of([25, 10])


def test_index_of_refuses_ids_that_are_not_integers():
    # 3.7 was truncated to the id 3, silently.
    bank = _bank(ids=(3, 4, 7))
    for ids, error, match in [
        ([3.7], TypeError, r"non-integral values \[3.7\]"),
        ([4, np.nan], TypeError, "non-integral"),
        (["3"], TypeError, "must be integers"),
        ([True], TypeError, "must be integers"),
        (np.array([2**64 - 1], dtype=np.uint64), ValueError, "int64"),
        ([1e30], ValueError, "int64"),
    ]:
        with pytest.raises(error, match=match):
            bank.index_of(ids)
    # Integral floats (ids read back from a CSV log) are the ids they equal.
    assert bank.index_of([7.0, 3.0]).tolist() == [2, 0]
    assert bank.index_of(np.array([4], dtype=np.uint8)).tolist() == [1]


def test_concat():
    both = _bank(ids=(0, 1)).concat(_bank(ids=(5, 6), seed=1))
    assert both.action_ids.tolist() == [0, 1, 5, 6] and both.embeddings.shape == (4, 4)
    with pytest.raises(ValueError, match=r"share action ids: \[1\]"):
        _bank(ids=(0, 1)).concat(_bank(ids=(1, 2)))
    with pytest.raises(ValueError, match=r"embedding_dim=4.*embedding_dim=3"):
        _bank(ids=(0,)).concat(_bank(ids=(1,), dim=3))
    with pytest.raises(TypeError, match="ActionBank"):
        _bank().concat([1, 2])


def test_json_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(3)
    embeddings = rng.standard_normal((5, 7)) * np.logspace(-300, 300, 7)
    bank = ActionBank(
        action_ids=[4, 8, 15, 16, 23],
        texts=['Subject: Ünïcödé ☕ | Body: "quoted"\nline', "b", "c", "{first_name}", "e"],
        embeddings=embeddings,
    )
    path = tmp_path / "iteration_0" / "action_bank.json"
    bank.to_json(path)
    restored = ActionBank.from_json(path)
    assert restored == bank
    np.testing.assert_array_equal(restored.embeddings, embeddings)
    layout = json.loads(path.read_text(encoding="utf-8"))
    assert list(layout) == ["actions"]
    assert layout["actions"][0]["action_id"] == 4
    assert set(layout["actions"][0]) == {"action_id", "text", "embedding"}
    assert not list(path.parent.glob("*.tmp"))


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=5),
        elements=st.floats(allow_nan=False, allow_infinity=False),
    )
)
def test_dict_round_trip_is_exact_for_any_finite_floats(embeddings):
    bank = ActionBank(
        action_ids=np.arange(len(embeddings)),
        texts=[str(i) for i in range(len(embeddings))],
        embeddings=embeddings,
    )
    restored = ActionBank.from_dict(json.loads(json.dumps(bank.to_dict())))
    np.testing.assert_array_equal(restored.embeddings, embeddings)
    assert restored == bank


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"actions": []}, "empty"),
        ({"bank": []}, "actions"),
        ({"actions": [{"action_id": 0, "text": "a"}]}, "embedding"),
        (
            {
                "actions": [
                    {"action_id": 0, "text": "a", "embedding": [1.0, 2.0]},
                    {"action_id": 1, "text": "b", "embedding": [1.0]},
                ]
            },
            "same length",
        ),
    ],
)
def test_from_dict_rejects_bad_layouts(data, match):
    with pytest.raises(ValueError, match=match):
        ActionBank.from_dict(data)


def test_to_frame():
    frame = _bank(ids=(7, 9)).to_frame()
    assert list(frame.columns) == ["action_id", "text"]
    pd.testing.assert_series_equal(frame["action_id"], pd.Series([7, 9], name="action_id"))


def test_make_action_bank():
    texts = TemplateActionGenerator(random_state=1).generate(4)
    bank = make_action_bank(texts, HashingEmbedder(n_features=16), start_id=50)
    assert bank.action_ids.tolist() == [50, 51, 52, 53]
    assert bank.texts == tuple(texts)
    np.testing.assert_array_equal(bank.embeddings, HashingEmbedder(n_features=16).embed(texts))
    with pytest.raises(ValueError, match="empty"):
        make_action_bank([], HashingEmbedder())

    class Wrong:
        def embed(self, texts):
            return np.zeros((len(texts) + 1, 3))

    with pytest.raises(ValueError, match="returned shape"):
        make_action_bank(texts, Wrong())


# -- TemplateActionGenerator ------------------------------------------------------


def test_template_same_seed_same_texts():
    texts = TemplateActionGenerator(random_state=42).generate(50)
    assert texts == TemplateActionGenerator(random_state=42).generate(50)
    assert texts != TemplateActionGenerator(random_state=43).generate(50)
    assert len(set(texts)) == 50
    assert all(t.startswith("Subject: ") and " | Body: " in t for t in texts)


def test_template_generator_state_advances():
    gen = TemplateActionGenerator(random_state=np.random.default_rng(0))
    assert gen.generate(5) != gen.generate(5)


def test_template_texts_are_varied():
    texts = TemplateActionGenerator(random_state=0).generate(300)
    for cue in ("% off", "free shipping", "loyalty points", "{first_name}", "app", "store"):
        assert any(cue in t for t in texts), cue
    subjects = {t.split(" | ")[0] for t in texts}
    assert len(subjects) > 200


def test_template_exclude_ignores_case_and_spacing():
    gen = TemplateActionGenerator(random_state=5)
    first = gen.generate(20)
    shouted = ["  " + t.upper().replace(" ", "   ") for t in first]
    again = gen.generate(20, exclude=shouted)
    assert not {t.casefold() for t in again} & {t.casefold() for t in first}


@pytest.mark.parametrize(
    ("n", "exclude", "error"),
    [(0, (), ValueError), (2.5, (), TypeError), (True, (), TypeError), (3, "text", TypeError)],
)
def test_template_bad_input(n, exclude, error):
    with pytest.raises(error):
        TemplateActionGenerator(random_state=0).generate(n, exclude=exclude)


# -- LLMActionGenerator over HTTP -----------------------------------------------------


def _llm(server, **kwargs):
    params = {
        "api_key": "test",
        "base_url": server.base_url,
        "backoff": 0.01,
        "timeout": 0.2,
        "max_retries": 3,
        "random_state": 0,
    }
    params.update(kwargs)
    return LLMActionGenerator(**params)


def test_llm_success_in_batches(openai_server):
    gen = _llm(openai_server, batch_size=4)
    texts = gen.generate(7)
    assert len(texts) == len(set(texts)) == 7
    assert all(t.startswith("Subject: Offer number") for t in texts)
    assert gen.backend_ == "openai" and gen.n_requests_ == 2
    prompts = [body["messages"][1]["content"] for _, body in openai_server.requests]
    assert "exactly 4 " in prompts[0] and "exactly 3 " in prompts[1]
    # The second request quotes the first answers back, so they are not repeated.
    assert texts[0] in prompts[1]


@pytest.mark.parametrize("fault", ["429", "500", "timeout", "malformed", "missing"])
def test_llm_transient_fault_is_retried(openai_server, fault):
    openai_server.script(fault)
    gen = _llm(openai_server)
    assert len(gen.generate(3)) == 3
    assert gen.backend_ == "openai" and openai_server.count() == 2


def test_llm_unusable_reply_is_retried(openai_server):
    openai_server.chat_replies.append("Sorry, I cannot help with that.")
    gen = _llm(openai_server)
    assert len(gen.generate(2)) == 2
    assert openai_server.count() == 2


def test_llm_dedupes_and_asks_for_the_shortfall(openai_server):
    a = "Subject: A | Body: one"
    b = "Subject: B | Body: two"
    openai_server.chat_replies.append(json.dumps([a, a.upper(), "subject: b  | body: TWO", "x"]))
    gen = _llm(openai_server)
    texts = gen.generate(3, exclude=[b])
    assert texts[:2] == [a, "x"]
    assert len(texts) == 3 and openai_server.count() == 2
    assert "exactly 1 " in openai_server.requests[1][1]["messages"][1]["content"]


def test_llm_persistent_500_falls_back_to_templates(openai_server):
    openai_server.default = "500"
    gen = _llm(openai_server, max_retries=2)
    with pytest.warns(FallbackWarning, match="failed 3 times") as record:
        texts = gen.generate(5)
    assert len(record) == 1
    assert texts == TemplateActionGenerator(random_state=0).generate(5)
    assert gen.backend_ == "template" and openai_server.count() == 3


def test_llm_partial_answer_is_completed_by_the_fallback(openai_server):
    openai_server.script("ok")
    openai_server.default = "429"
    gen = _llm(openai_server, batch_size=3, max_retries=1)
    with pytest.warns(FallbackWarning, match="2 of the 5 texts"):
        texts = gen.generate(5)
    assert len(set(texts)) == 5 and texts[0].startswith("Subject: Offer number")
    assert gen.backend_ == "openai+template"


def test_llm_repeating_model_hits_max_rounds(openai_server):
    openai_server.chat_replies.extend([json.dumps(["Subject: Same | Body: same"])] * 3)
    gen = _llm(openai_server, max_rounds=3)
    with pytest.warns(FallbackWarning, match="1 distinct texts of the 4 asked for in 3 requests"):
        texts = gen.generate(4)
    assert texts[0] == "Subject: Same | Body: same" and len(set(texts)) == 4


def test_llm_without_key(openai_server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    gen = LLMActionGenerator(base_url=openai_server.base_url, random_state=1)
    with pytest.warns(FallbackWarning, match="no OpenAI API key") as record:
        texts = gen.generate(4)
    assert len(record) == 1 and openai_server.count() == 0
    assert texts == TemplateActionGenerator(random_state=1).generate(4)

    with pytest.raises(OpenAIUnavailableError, match="no OpenAI API key"):
        LLMActionGenerator(base_url=openai_server.base_url, fallback=None).generate(2)


def test_llm_custom_fallback(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    class Fixed:
        def generate(self, n, exclude=()):
            return [f"fixed {i}" for i in range(n)]

    with pytest.warns(FallbackWarning):
        assert LLMActionGenerator(fallback=Fixed()).generate(2) == ["fixed 0", "fixed 1"]
    with pytest.raises(ValueError, match="fallback"):
        LLMActionGenerator(fallback="markov").generate(2)


def test_llm_backoff_doubles(openai_server, monkeypatch):
    delays = []
    monkeypatch.setattr(openai_module, "_sleep", delays.append)
    openai_server.script("503", "503")
    _llm(openai_server, backoff=0.5).generate(1)
    assert delays == [0.5, 1.0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('["Subject: A | Body: a", " B "]', ["Subject: A | Body: a", "B"]),
        ('```json\n["A", "B"]\n```', ["A", "B"]),
        ('Here you go:\n["A", "B"]\nEnjoy!', ["A", "B"]),
        ('{"actions": ["A", "B"]}', ["A", "B"]),
        ('[{"subject": "S", "body": "B"}, {"text": "T"}, 3]', ["Subject: S | Body: B", "T"]),
        (
            "1. Subject: A | Body: a\n- Subject: B | Body: b\nnote",
            ["Subject: A | Body: a", "Subject: B | Body: b"],
        ),
        ("nothing useful", []),
    ],
)
def test_parse_texts(content, expected):
    assert _parse_texts(content) == expected
