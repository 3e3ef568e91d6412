"""The Slurm cluster the Slurm tests run on (scripts/slurm-up.sh starts a single-node one)."""

from __future__ import annotations

import shutil
import subprocess


def cluster_answers() -> bool:
    """sbatch is installed and `sinfo` reports a node that can take jobs."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return False
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and any(s in done.stdout for s in ("idle", "mixed", "allocated"))
