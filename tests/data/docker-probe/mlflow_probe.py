"""Asks the MLflow server the run's variables name about the run, from inside the container."""

import json
import os
import urllib.request

url = f"{os.environ['MLFLOW_TRACKING_URI']}/api/2.0/mlflow/runs/get?run_id={os.environ['MLFLOW_RUN_ID']}"
with urllib.request.urlopen(url, timeout=10) as response:
    info = json.load(response)["run"]["info"]
print("run", info["run_id"], info["status"], "experiment", os.environ["MLFLOW_EXPERIMENT_ID"])
