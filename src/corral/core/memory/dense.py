"""The optional dense-vector stage of recall, behind one small interface.

The default install has no encoder and recall is lexical. ``CORRAL_MEMORY_DENSE_ENCODER=wordllama``
(with ``pip install 'corral[dense]'``) loads WordLlama's static token embeddings, which ship
inside that package: no PyTorch, and nothing is downloaded at run time. The stage scores the
lexical candidates by cosine similarity to the query and recall fuses both rankings.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from corral.errors import InvalidRequest


class DenseEncoder(Protocol):
    """Anything that can say how close texts are to a query, from 1 (same) to -1."""

    def similarities(self, query: str, texts: Sequence[str]) -> list[float]: ...


class WordLlamaEncoder:
    """WordLlama ``l2_supercat`` at 256 dimensions, loaded from the files in its wheel."""

    def __init__(self) -> None:
        try:
            import wordllama
            from safetensors import safe_open
            from tokenizers import Tokenizer
            from wordllama.inference import WordLlamaInference
        except ImportError as exc:
            raise InvalidRequest(
                "CORRAL_MEMORY_DENSE_ENCODER=wordllama needs the dense extra: "
                "pip install 'corral[dense]'.",
                code="dense_encoder_unavailable",
            ) from exc
        root = Path(wordllama.__file__).parent
        weights = root / "weights" / "l2_supercat_256.safetensors"
        tokenizer = Tokenizer.from_file(
            str(root / "tokenizers" / "l2_supercat_tokenizer_config.json")
        )
        with safe_open(str(weights), framework="np", device="cpu") as handle:
            embedding = handle.get_tensor("embedding.weight")
        self._model: Any = WordLlamaInference(embedding, tokenizer)

    def similarities(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        vectors = self._model.embed(list(texts), norm=True)
        target = self._model.embed([query], norm=True)[0]
        return [float(v) for v in vectors @ target]


@cache
def load_encoder(name: str) -> DenseEncoder | None:
    """The encoder a setting names (loaded once per process), or None for ``none``."""
    if name == "none":
        return None
    if name == "wordllama":
        return WordLlamaEncoder()
    raise InvalidRequest(f"unknown dense encoder {name!r}.", code="dense_encoder_unavailable")
