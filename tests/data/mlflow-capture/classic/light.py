"""What train.py logs, but no model: for places without scikit-learn (a bare container image)."""

import os
import sys
import tempfile

import mlflow

alpha = float(sys.argv[1])
with mlflow.start_run() as run:
    mlflow.log_param("alpha", alpha)
    mlflow.set_tag("team", "capture")
    mlflow.log_metric("score", alpha * 2)
    for step, loss in enumerate((0.9, 0.5, 0.2)):
        mlflow.log_metric("loss", loss, step=step)
    notes = os.path.join(tempfile.mkdtemp(), "notes.txt")
    with open(notes, "w") as handle:
        handle.write("logged with mlflow.log_artifact\n")
    mlflow.log_artifact(notes, artifact_path="docs")
    with mlflow.start_run(nested=True, run_name="fold-1"):
        mlflow.log_metric("fold_loss", 0.3)
print(f"logged run {run.info.run_id} with mlflow {mlflow.__version__}")
