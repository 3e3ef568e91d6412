"""Whatever a run writes where its MLflow client logs, proj reads it safely (no MLflow here: the
project is a stand-in writing what no real client writes, labelled as such in its MLproject)."""

from __future__ import annotations

import json
import sys

from conftest import DATA, run_id_of, run_proj, show_run
from helpers.exitcodes import USAGE

HOSTILE = DATA / "mlflow-capture" / "hostile"


def test_links_oversized_and_malformed_files_cost_warnings_never_the_run(tmp_path):
    secret = tmp_path / "private" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("TOPSECRET\n")
    store = tmp_path / "store"

    done = run_proj("run", str(HOSTILE), "--env-manager", "local", "-P", f"python={sys.executable}",
                    "-P", f"secret={secret}", "--tracking-uri", str(store), timeout=120, check_exit=0)
    run_id = run_id_of(done)
    shown = show_run(run_id, tmp_path, "--tracking-uri", str(store))

    assert shown["status"] == "FINISHED" and "Traceback" not in done.stderr
    assert "TOPSECRET" not in json.dumps(shown) and "TOPSECRET" not in done.stderr
    assert shown["mlflow"]["params"] == {"alpha": "0.5"}  # the link is not a parameter
    assert "huge" not in shown["mlflow"]["tags"]
    assert shown["metrics"]["loss"]["count"] == 2 and "fifo" not in shown["metrics"]
    assert [a["path"] for a in shown["artifacts"]] == ["kept.txt"]  # links are not artifacts
    assert shown["child_runs"] == []  # neither nested run could be read
    problems = "\n".join(shown["mlflow"]["problems"])
    assert "tag 'huge' is larger than 64 KiB" in problems and "meta.yaml is not valid YAML" in problems
    assert "'loss'" in done.stderr and "line 2" in done.stderr  # the skipped metric line is reported
    copied = run_proj("runs", "artifacts", run_id, "stolen.txt", "-o", str(tmp_path / "out"),
                      "--tracking-uri", str(store))
    assert copied.returncode == USAGE and not (tmp_path / "out").exists()
