"""Keeping secrets out of what proj writes: run records, run cards, proj's own messages.

A secret is the value of an environment variable whose name looks secret (it contains TOKEN,
SECRET, PASSWORD, PASSWD, CREDENTIAL, or KEY as a word). Wherever such a value would appear in
a record — a parameter, the rendered command, a build log — it is replaced by `***`.
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

REDACTED = "***"
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|(^|_)KEY($|_)|APIKEY|ACCESS_KEY", re.IGNORECASE)
MIN_SECRET_LENGTH = 4  # shorter values ("1", "yes") would redact ordinary text


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of secret-looking variables, longest first (so overlapping ones redact fully)."""
    environ = os.environ if environ is None else environ
    values = {value for name, value in environ.items() if _SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)


def secret_variables(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The secret-looking variables by value: value -> name (the first name, for a shared value)."""
    environ = os.environ if environ is None else environ
    found: dict[str, str] = {}
    for name in sorted(environ):
        value = environ[name]
        if _SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH:
            found.setdefault(value, name)
    return found


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def redact_bytes(data: bytes, secrets: list[str]) -> bytes:
    for secret in secrets:
        data = data.replace(secret.encode(), REDACTED.encode())
    return data


def redact(value: Any, secrets: list[str]) -> Any:
    """`value` (strings, lists, dicts, nested) with every secret replaced."""
    if not secrets:
        return value
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {key: redact(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(item, secrets) for item in value)
    return value


# Query parameters of a URL that carry credentials: tokens, passwords, keys, signatures (GitLab's
# private_token, S3's X-Amz-Signature and X-Amz-Credential, Azure's `sig`, ...).
_SECRET_QUERY = re.compile(r"token|secret|passw|key|sig|credential|auth|session", re.IGNORECASE)


def query_secrets(query: str) -> list[str]:
    """The values of a URL query's secret-looking parameters (`private_token=VALUE`)."""
    pairs = (pair.partition("=") for pair in query.split("&"))
    return [value for name, sep, value in pairs if sep and value and _SECRET_QUERY.search(name)]


def masked_query(query: str) -> str:
    """The query with the value of every secret-looking parameter replaced by ***."""
    pairs = (pair.partition("=") for pair in query.split("&"))
    return "&".join(f"{name}={REDACTED}" if sep and value and _SECRET_QUERY.search(name) else f"{name}{sep}{value}"
                    for name, sep, value in pairs)
