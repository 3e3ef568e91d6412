"""Environments: where a run's command runs, one kind at a time.

`registry` finds a kind by name, `--env-manager` value or MLproject key (built-ins and plugins
under the entry-point group `proj.environments`); `kind` is the contract each kind implements;
`base` is what a prepared environment gives the backend. The built-in kinds are `local`,
`virtualenv_kind`, `conda_kind` and `docker_kind`; the modules they build with sit beside them.
"""

from __future__ import annotations

from runner.environments.base import Environment, PreparedEnvironment
from runner.invocation import Invocation

__all__ = ["Environment", "Invocation", "PreparedEnvironment"]
