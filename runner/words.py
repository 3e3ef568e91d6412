"""Counted words as proj writes them, in the CLI and the UI alike: `1 run`, `2 runs`, `0 errors`."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """`count` and `word`, in the plural unless the count is one (`many` for words that do not
    just take an s: batch -> batches)."""
    return f"{count} {word if count == 1 else many or word + 's'}"
