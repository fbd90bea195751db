"""Text analysis for memory: the normal form used for deduplication and the terms used for search.

One analyser serves both databases: terms are computed here, in Python, and the full-text index
only stores them. That is what makes search behave the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

import snowballstemmer

from corral.core.memory.stopwords import STOPWORDS

_WORD = re.compile(r"\w+")
_PUNCTUATION = re.compile(r"[^\w\s]|_")
"""Punctuation and symbols (anything neither a word character nor a space, and '_')."""
_POSSESSIVE = re.compile(r"['\u2019]s\b")
_ASCII_TERM = re.compile(r"^[a-z0-9]+$")
_MAX_TERM = 40
_STEMMER = snowballstemmer.stemmer("english")


def normalize(text: str) -> str:
    """The normal form two items must share to be duplicates: Unicode-normalised, case-folded,
    without punctuation, with single spaces."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_PUNCTUATION.sub(" ", folded).split())


def content_hash(text: str) -> str:
    """SHA-256 of :func:`normalize` — what deduplication compares."""
    return hashlib.sha256(normalize(text).encode()).hexdigest()


def _fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=200_000)
def _term(word: str) -> str | None:
    """The index term of one word, or None for a stopword.

    Plain ASCII words are stemmed (Snowball English), numbers kept as they are, and anything else
    (other scripts, very long tokens) replaced by a short hash so that every term is ``[a-z0-9]+``
    — the one alphabet both databases' tokenisers keep whole.
    """
    if word in STOPWORDS:
        return None
    if _ASCII_TERM.match(word) and len(word) <= _MAX_TERM:
        return word if word.isdigit() else str(_STEMMER.stemWord(word))
    return "h" + hashlib.blake2b(word.encode(), digest_size=6).hexdigest()


def terms(text: str) -> list[str]:
    """The search terms of ``text``, in order, repeats kept (they are term frequencies)."""
    out: list[str] = []
    for word in _WORD.findall(_POSSESSIVE.sub("", _fold(text))):
        term = _term(word.replace("_", ""))
        if term:
            out.append(term)
    return out


def query_terms(text: str) -> list[str]:
    """Distinct search terms of a query, in order of first appearance."""
    return list(dict.fromkeys(terms(text)))
