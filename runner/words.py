"""Words as proj writes them, in the CLI and the UI alike: counted (`1 run`, `2 runs`, `0 errors`),
and the "did you mean" suggestions of its error messages."""

from __future__ import annotations

from collections.abc import Iterable


def plural(count: int, word: str, many: str | None = None) -> str:
    """`count` and `word`, in the plural unless the count is one (`many` for words that do not
    just take an s: batch -> batches)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def close_matches(word: str, possibilities: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """The known words most like `word` (difflib's measure), best first: imported only by an error
    that suggests one, since difflib (with heapq) costs every start that would import it."""
    import difflib

    return difflib.get_close_matches(word, list(possibilities), n=n, cutoff=cutoff)
