"""Plugin packages from tests/data, built and installed for real into a folder of their own.

Only the `proj` processes of a test see that folder (through PYTHONPATH), so the test
environment itself is never changed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def install_plugin(source: Path, work: Path) -> Path:
    """Build `source` with hatchling (a test dependency) and install it into `work/site`; the site."""
    copy = shutil.copytree(source, work / "source")  # build outside the repository
    site = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(site), str(copy)],
                   check=True, capture_output=True)
    return site
