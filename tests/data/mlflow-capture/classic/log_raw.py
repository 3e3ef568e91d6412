"""Logs the parameter exactly as it came on the command line (the string '5'), then a metric."""

import sys

import mlflow

with mlflow.start_run():
    mlflow.log_param("alpha", sys.argv[1])
    mlflow.log_metric("loss", 0.1)
print("logged", sys.argv[1])
