# The public API as type checkers see it; runner/__init__.py loads each name on first use.
from runner.errors import ProjError as ProjError
from runner.log import log_artifact as log_artifact
from runner.log import log_metric as log_metric
from runner.log import log_metrics as log_metrics
from runner.log import log_param as log_param
from runner.log import log_params as log_params
from runner.log import set_tag as set_tag
from runner.log import set_tags as set_tags
from runner.python_api import RunFailedError as RunFailedError
from runner.python_api import run as run
from runner.python_api import search_runs as search_runs
from runner.tracking.base import RunRecord as RunRecord
from runner.tracking.base import RunStatus as RunStatus

__version__: str
__all__ = [
    "__version__", "log_metric", "log_metrics", "log_param", "log_params", "set_tag", "set_tags", "log_artifact",
    "run", "search_runs", "RunFailedError", "RunRecord", "RunStatus", "ProjError",
]
