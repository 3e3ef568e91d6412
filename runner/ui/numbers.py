"""How numbers are written on the pages and charts: short for reading, exact on hover.

A rounded value keeps four significant digits without switching to exponents in the range people
read at a glance (0.001 to 1,000,000); the exact value is Python's shortest round-trip text, so
copying it from the tooltip gives back the very float that was recorded.
"""

from __future__ import annotations

import math

SIGNIFICANT = 4


def rounded(value: float | int | None) -> str:
    """`0.7312`, `12.35`, `1235`, `1.235e+07`, `nan`, `inf`; a dash for no value."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.{SIGNIFICANT - 1}e}"
    decimals = max(0, SIGNIFICANT - 1 - math.floor(math.log10(magnitude)))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def exact(value: float | int | None) -> str:
    """The value as recorded: what `repr` writes for a float (shortest text that reads back the same)."""
    if value is None:
        return "-"
    return repr(value)


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
