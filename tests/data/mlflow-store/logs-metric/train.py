"""Training code as users write it: it continues the run its launcher started."""

import argparse
import os

import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--end-status", default="")
args = parser.parse_args()

launcher_run = os.environ["MLFLOW_RUN_ID"]  # read first: mlflow removes it once it is used
run = mlflow.start_run()  # picks up MLFLOW_RUN_ID, MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_ID
print(f"continuing run {run.info.run_id} (launcher said {launcher_run})")
mlflow.log_metric("loss", 0.25, step=1)
mlflow.log_param("epochs", "3")
if args.end_status:
    mlflow.end_run(status=args.end_status)
