"""Runs recorded straight through the local store, for tests that need more runs than real
`proj run`s could make in reasonable time (a 200-point sweep). Each run has parameters, a
metrics file, stored summaries (as a run's end stores them) and a final status."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

from helpers.records import new_record
from runner.tracking.base import RunStatus
from runner.tracking.local import LocalStore


def recorded_sweep(root: Path, points: int, *, experiment: str = "synthetic", start: float = 1.7e9) -> str:
    """`points` finished runs of one sweep (lr, batch, dropout, optimizer swept); returns its id."""
    store = LocalStore(root)
    sweep_id = uuid.uuid4().hex
    for i in range(points):
        values = {"lr": f"{10 ** -(1 + i % 4)}", "batch": str(2 ** (4 + i % 3)), "dropout": f"{(i % 5) / 10}",
                  "optimizer": ("adam", "sgd", "rmsprop")[i % 3]}
        name = "train:main [" + " ".join(f"{k}={v}" for k, v in values.items()) + "]"
        record = store.start_run(new_record(parameters=values, sweep_id=sweep_id, experiment=experiment,
                                            run_name=name, start_time=start + i))
        loss = 0.2 + abs(math.sin(i * 0.37)) + (i % 4) * 0.1
        lines = [{"key": "loss", "value": loss * (1 + 1 / step), "step": step} for step in range(1, 6)]
        lines.append({"key": "accuracy", "value": 1 - loss / 2})
        (store.output_dir(record.run_id) / "metrics.jsonl").write_text("".join(json.dumps(p) + "\n" for p in lines))
        store.save_metrics(record.run_id, store.read_metrics(record.run_id))
        store.end_run(record.run_id, RunStatus.FINISHED, 0, start + i + 5)
    return sweep_id
