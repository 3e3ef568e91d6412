"""Downloading one file over http(s): streamed to disk, hashed, and never beyond a size limit.

Used for project archives (runner.archives) and for `path` parameters given as URLs
(runner.pathvalues). urllib is imported only here, when something is downloaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO

from runner.errors import SourceError, UnsafeSourceError

DOWNLOAD_SCHEMES = ("http", "https")
_TIMEOUT = 60.0
_CHUNK = 1 << 20


def download(url: str, target: Path, *, shown_as: str, max_bytes: int | None = None,
             limit_hint: str = "") -> str:
    """Fetch `url` into `target`; returns the SHA-256 of what was written. SourceError when the
    server cannot be reached or answers with an error."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as response, open(target, "wb") as out:  # noqa: S310
            return copy_hashed(response, out, shown_as=shown_as, max_bytes=max_bytes, limit_hint=limit_hint)
    except urllib.error.HTTPError as err:
        raise SourceError(f"Cannot download {shown_as}: the server answered {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", None) or err
        raise SourceError(f"Cannot download {shown_as}: {reason}") from None


def copy_hashed(source: IO[bytes], out: IO[bytes] | None, *, shown_as: str, max_bytes: int | None = None,
                limit_hint: str = "") -> str:
    """Read `source` to its end (copying it to `out`, if given); its SHA-256."""
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(_CHUNK):
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise UnsafeSourceError(f"Refusing {shown_as}: it is larger than {max_bytes} bytes{limit_hint}")
        digest.update(chunk)
        if out is not None:
            out.write(chunk)
    return digest.hexdigest()
