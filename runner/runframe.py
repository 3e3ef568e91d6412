"""Run records as a pandas DataFrame, in the shape `mlflow.search_runs` gives.

One row per run; `run_id`, `experiment_id`, `status`, `start_time` and `end_time` (UTC
timestamps) as MLflow names them, proj's own columns beside them, then `metrics.<name>` (each
metric's last value), `params.<name>` and `tags.<name>` (text), so code written against MLflow's
frame reads this one. Imported only when pandas is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.runmatch import run_params, run_tags
from runner.tracking.base import RunRecord

if TYPE_CHECKING:
    import pandas

BASE_COLUMNS = ("run_id", "experiment_id", "experiment", "run_name", "status", "start_time", "end_time",
                "duration", "exit_code", "entry_point", "sweep_id")


def runs_frame(records: list[RunRecord]) -> pandas.DataFrame:
    try:
        import pandas
    except ImportError:
        from runner.errors import UsageError

        raise UsageError("output_format='pandas' needs pandas, which is not installed here",
                         hint="pip install pandas, or ask for output_format='records'") from None
    rows = [_row(record) for record in records]
    extra = sorted({c for row in rows for c in row if c not in BASE_COLUMNS}, key=_column_order)
    frame = pandas.DataFrame(rows, columns=[*BASE_COLUMNS, *extra])
    for column in ("start_time", "end_time"):
        frame[column] = pandas.to_datetime(frame[column], unit="s", utc=True)
    return frame


def _row(record: RunRecord) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": record.run_id, "experiment_id": record.experiment_id, "experiment": record.experiment,
        "run_name": record.run_name, "status": record.status.value, "start_time": record.start_time,
        "end_time": record.end_time, "duration": record.duration, "exit_code": record.exit_code,
        "entry_point": record.entry_point, "sweep_id": record.sweep_id,
    }
    for key, summary in record.metrics.items():
        last = summary.get("last")
        row[f"metrics.{key}"] = None if last is None else float(last)
    row.update({f"params.{k}": v for k, v in run_params(record).items()})
    row.update({f"tags.{k}": v for k, v in run_tags(record).items()})
    return row


def _column_order(column: str) -> tuple[int, str]:
    kind = column.split(".", 1)[0]
    return {"metrics": 0, "params": 1, "tags": 2}.get(kind, 3), column
