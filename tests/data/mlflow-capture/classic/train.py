"""Everything a training script logs with MLflow: a parameter parsed with float(sys.argv[1]),
a metric with steps, a tag, an artifact, a scikit-learn model and a nested run; plus a metric
in proj's own metrics.jsonl, side by side."""

import json
import os
import sys
import tempfile

import mlflow
import mlflow.sklearn
import numpy as np
from mlflow.models import infer_signature
from sklearn.linear_model import Ridge

alpha = float(sys.argv[1])
with mlflow.start_run() as run:
    mlflow.log_param("alpha", alpha)
    mlflow.set_tag("team", "capture")
    for step, loss in enumerate((0.9, 0.5, 0.2)):
        mlflow.log_metric("loss", loss, step=step)
    notes = os.path.join(tempfile.mkdtemp(), "notes.txt")
    with open(notes, "w") as handle:
        handle.write("logged with mlflow.log_artifact\n")
    mlflow.log_artifact(notes, artifact_path="docs")
    with open(os.path.join(os.environ["PROJ_OUTPUT_DIR"], "metrics.jsonl"), "a") as handle:
        handle.write(json.dumps({"key": "jsonl_score", "value": 0.75, "step": 1}) + "\n")

    features = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    model = Ridge(alpha=alpha).fit(features, [1.0, 2.0, 3.0, 4.0])
    signature = infer_signature(features, model.predict(features))
    if mlflow.__version__.startswith("2."):
        mlflow.sklearn.log_model(model, artifact_path="model", signature=signature)
    else:
        mlflow.sklearn.log_model(model, name="model", signature=signature)

    with mlflow.start_run(nested=True, run_name="fold-1"):
        mlflow.log_param("fold", 1)
        mlflow.log_metric("fold_loss", 0.3)
print(f"logged run {run.info.run_id} with mlflow {mlflow.__version__}")
