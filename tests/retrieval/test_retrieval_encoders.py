"""The encoder registry: specs, prefixes and pooling applied as declared (on the embedded MiniLM weights)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from setsel.retrieval.encoders import ENCODERS, EncoderError, embedded_minilm_path, resolve_spec


def test_registry_declares_the_published_usage():
    assert ENCODERS["e5-large"].query_prefix == "query: " and ENCODERS["e5-large"].passage_prefix == "passage: "
    assert ENCODERS["bge-large"].pooling == "cls" and ENCODERS["bge-large"].query_prefix.startswith("Represent")
    assert ENCODERS["bge-large"].passage_prefix == "" and ENCODERS["bge-large"].dim == 1024
    assert ENCODERS["contriever"].pooling == "mean" and not ENCODERS["contriever"].normalize
    assert resolve_spec("bge-large", "/models/bge").model == "/models/bge"
    with pytest.raises(EncoderError, match="unknown encoder"):
        resolve_spec("no-such-encoder")


@pytest.mark.slow
def test_spec_prefixes_and_pooling_are_applied():
    from setsel.retrieval.encoders import Encoder, load_encoder

    path = str(embedded_minilm_path())
    base = load_encoder("minilm")
    # e5-style spec on the MiniLM weights: mean pooling + normalise, with prefixes
    e5 = Encoder(replace(ENCODERS["e5-base"], model=path, dim=384, max_seq_length=256))
    np.testing.assert_allclose(e5.encode(["who wrote hamlet"], kind="query"),
                               base.encode(["query: who wrote hamlet"], kind="query"), atol=1e-5)
    np.testing.assert_allclose(e5.encode(["hamlet is a play"], kind="passage"),
                               base.encode(["passage: hamlet is a play"], kind="passage"), atol=1e-5)
    # CLS pooling (bge-style) gives other vectors than mean pooling, still unit length
    cls = Encoder(replace(ENCODERS["bge-base"], model=path, dim=384, max_seq_length=256))
    v = cls.encode(["hamlet is a play"], kind="passage")
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5
    assert float(v[0] @ base.encode(["hamlet is a play"])[0]) < 0.999
    # the declared dimension is checked against the model
    with pytest.raises(EncoderError, match="dimension 384, the spec says 768"):
        Encoder(replace(ENCODERS["e5-base"], model=path))
    with pytest.raises(EncoderError, match="kind must be"):
        base.encode(["x"], kind="document")
    assert base.encode([], kind="query").shape == (0, 384)
