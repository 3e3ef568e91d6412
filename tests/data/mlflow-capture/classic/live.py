"""Logs, then waits until the file named by argv[1] exists, then logs again: a run caught mid-way."""

import os
import sys
import time

import mlflow

with mlflow.start_run():
    mlflow.log_param("phase", "training")
    mlflow.log_metric("progress", 0.5, step=0)
    print("waiting for release", flush=True)
    deadline = time.time() + 300
    while not os.path.exists(sys.argv[1]) and time.time() < deadline:
        time.sleep(0.05)
    mlflow.log_metric("progress", 1.0, step=1)
print("released")
