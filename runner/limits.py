"""The limits that keep proj small and quick, whatever a run writes or a file holds.

Each limit has a default and an environment variable that changes it (docs/reliability.md lists
them all, with what happens when one is reached). Sizes accept a K, M or G suffix (powers of 1024).
Limits that a store or a protocol imposes (64-bit integers: runner.grammar) are not configurable
and live with the code that needs them.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

from runner.errors import UsageError

_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]?)i?B?\s*$", re.IGNORECASE)
_FACTORS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


class Limit(NamedTuple):
    """A size or count proj refuses to exceed, which a variable can change."""

    variable: str  # the environment variable that changes it
    default: int
    what: str  # what is limited, for messages

    def get(self) -> int:
        """The limit in force: the variable's value when set, else the default."""
        text = os.environ.get(self.variable, "")
        if not text.strip():
            return self.default
        match = _SIZE.match(text)
        value = int(match.group(1)) * _FACTORS[match.group(2).upper()] if match else 0
        if value < 1:
            raise UsageError(f"{self.variable}={text!r} is not a limit proj understands",
                             hint=f"give a whole number greater than 0 (sizes may end in K, M or G); "
                                  f"the default is {self.default}")
        return value


SPEC_FILE_BYTES = Limit("PROJ_MAX_SPEC_BYTES", 256 * 1024, "the size of an MLproject or environment file")
CARD_FILE_BYTES = Limit("PROJ_MAX_CARD_BYTES", 256 * 1024**2,
                        "the size of a run card (it holds the run's uncommitted changes and lock)")
METRIC_LINE_BYTES = Limit("PROJ_MAX_METRIC_LINE_BYTES", 64 * 1024, "the length of one metrics.jsonl line")
METRICS_FILE_BYTES = Limit("PROJ_MAX_METRICS_BYTES", 256 * 1024**2, "how much of metrics.jsonl is read")
METRIC_KEYS = Limit("PROJ_MAX_METRIC_KEYS", 1000, "the number of different metric keys in a run")
ARTIFACTS_LISTED = Limit("PROJ_MAX_ARTIFACTS_LISTED", 1000,
                         "artifacts listed by `proj runs show` and the run page (the rest are counted)")

SWEEP_POINTS = Limit("PROJ_MAX_SWEEP_POINTS", 10_000, "the points of one sweep")

ALL_LIMITS = (SPEC_FILE_BYTES, CARD_FILE_BYTES, METRIC_LINE_BYTES, METRICS_FILE_BYTES, METRIC_KEYS, ARTIFACTS_LISTED,
              SWEEP_POINTS)


def check_limits() -> None:
    """Refuse a limit set to something proj cannot read now, before anything runs, rather than
    when it is first needed (at the end of a run)."""
    for limit in ALL_LIMITS:
        limit.get()
