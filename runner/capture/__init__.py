"""What a project logs with its own MLflow client, captured into the proj run.

On a store that is not an MLflow server, the entry point's MLflow client is pointed at a folder
that proj owns, inside the run's own folder: an MLflow *file store* holding one experiment and
one run, created by proj before the command starts (`location`). `MLFLOW_RUN_ID` names that run,
so `mlflow.start_run()` continues it, exactly as it continues a run on an MLflow server.

proj never imports mlflow: it reads what the client wrote straight from the files (`filestore`,
`models`), treating all of it as untrusted: links are never followed out of the folder, every
read is bounded, and a broken file costs a warning, never the run. Once the run has ended, the
run lifecycle's settler (`settle`) brings the parameters, tags, models and nested runs into the
record; metrics and artifacts are read from the capture whenever they are asked for, live while
the run runs. docs/tracking.md explains why a file store, and what each client version does.
"""
