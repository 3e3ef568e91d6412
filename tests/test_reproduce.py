"""`proj rerun`, `proj runs diff` and run cards with the local environment.

(Each environment kind's own run → rerun → diff test sits beside that kind's tests.)
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT, diff_of, run_id_of, run_proj
from helpers.exitcodes import SETUP, USAGE
from helpers.gitrepo import GitRepo

pytestmark = [pytest.mark.git, pytest.mark.usefixtures("git_available")]
EXAMPLE = REPO_ROOT / "example-projects" / "linear-regression"


@pytest.fixture
def repo(tmp_path) -> GitRepo:
    files = {name: (EXAMPLE / name).read_text() for name in ("MLproject", "train.py", "make_data.py")}
    files["data/housing.csv"] = (EXAMPLE / "data" / "housing.csv").read_text()
    return GitRepo.create(tmp_path / "repo", files)


def show(run_id: str, cwd: Path, *extra: str) -> dict:
    return json.loads(run_proj("runs", "show", run_id, "--format", "json", *extra, cwd=cwd, check_exit=0).stdout)


def output_of(run_id: str, cwd: Path, *extra: str) -> str:
    return run_proj("runs", "logs", run_id, *extra, cwd=cwd, check_exit=0).stdout


def test_rerun_of_a_git_run_is_identical(repo, tmp_path):
    original = run_id_of(run_proj("run", repo.url, "-P", "epochs=30", "-P", "alpha=0.1", cwd=tmp_path,
                                  check_exit=0))
    repo.commit({"train.py": "raise SystemExit('the newer commit must not run')\n"}, "breaking change")
    result = run_proj("rerun", original[:10], cwd=tmp_path, check_exit=0)
    again = run_id_of(result)
    record = show(again, tmp_path)
    assert record["reproduction"] == {"of": original, "deliberate": [], "drift": []}
    assert record["source"]["commit"] == show(original, tmp_path)["source"]["commit"]
    comparison = diff_of(original, again, tmp_path)
    assert comparison["identical_inputs"] is True
    assert [c for c in comparison["changes"] if c["section"] in ("source", "parameters", "command")] == []
    assert output_of(original, tmp_path) == output_of(again, tmp_path)  # a deterministic example


def test_rerun_of_a_dirty_local_project_reapplies_its_changes_and_leaves_the_folder_alone(repo, tmp_path,
                                                                                          monkeypatch):
    monkeypatch.setenv("PROJ_TRACKING_URI", str(tmp_path / "store"))  # outside the folder we watch
    repo.write({"train.py": (EXAMPLE / "train.py").read_text().replace('print(f"test rmse', 'print(f"dirty rmse'),
                "notes.txt": "an untracked file\n"})
    original = run_id_of(run_proj("run", ".", "-P", "epochs=10", cwd=repo.path, check_exit=0))
    repo.git("stash", "--include-untracked")  # the user moves on; the folder is clean again
    before = repo.snapshot()
    result = run_proj("rerun", original, cwd=repo.path, check_exit=0)
    assert "dirty rmse" in result.stdout
    again = run_id_of(result)
    assert repo.snapshot() == before
    record = show(again, repo.path)
    assert record["source"]["dirty"] is True
    assert record["source"]["diff_hash"] == show(original, repo.path)["source"]["diff_hash"]
    assert diff_of(original, again, repo.path)["identical_inputs"] is True


def test_exported_card_reruns_with_an_empty_home_and_store(repo, tmp_path):
    original = run_id_of(run_proj("run", repo.url, "-P", "epochs=15", cwd=tmp_path, check_exit=0))
    card = tmp_path / "card.yaml"
    run_proj("runs", "export", original, "-o", str(card), cwd=tmp_path, check_exit=0)
    data = yaml.safe_load(card.read_text())
    assert data["source"]["commit"] == repo.head() and data["parameters"] == {"epochs": "15"}
    assert run_proj("validate", str(card)).returncode == 1  # a card is not an MLproject
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PROJ_HOME": str(tmp_path / "fresh-home")}
    result = run_proj("rerun", str(card), "--tracking-uri", "fresh-store", cwd=elsewhere, env=env, check_exit=0)
    again = run_id_of(result)
    record = show(again, elsewhere, "--tracking-uri", "fresh-store")
    assert record["reproduction"]["of"] == original and record["source"]["commit"] == repo.head()
    assert output_of(again, elsewhere, "--tracking-uri", "fresh-store") == output_of(original, tmp_path)


def test_a_card_from_before_backends_were_recorded_reruns_here_and_says_so(repo, tmp_path):
    original = run_id_of(run_proj("run", repo.url, cwd=tmp_path, check_exit=0))
    card = tmp_path / "card.yaml"
    run_proj("runs", "export", original, "-o", str(card), cwd=tmp_path, check_exit=0)
    data = yaml.safe_load(card.read_text())
    assert data["backend"] == {"name": "local", "config": {}} and data["environment"]["options"] == {}
    del data["backend"], data["environment"]["options"]  # as proj wrote cards before it kept them
    card.write_text(yaml.safe_dump(data))
    result = run_proj("rerun", str(card), cwd=tmp_path, check_exit=0)
    note = "the original run's backend was not recorded (an older run card); this run ran on local"
    assert f"proj: warning: drift: {note}" in result.stderr
    assert show(run_id_of(result), tmp_path)["reproduction"]["drift"] == [note]


def test_damaged_card_is_refused(repo, tmp_path):
    original = run_id_of(run_proj("run", repo.url, cwd=tmp_path, check_exit=0))
    card = tmp_path / "card.yaml"
    run_proj("runs", "export", original, "-o", str(card), cwd=tmp_path, check_exit=0)
    data = yaml.safe_load(card.read_text())
    data["source"]["commit"] = "not-a-commit"
    card.write_text(yaml.safe_dump(data))
    result = run_proj("rerun", str(card), cwd=tmp_path)
    assert result.returncode == USAGE and "source.commit" in result.stderr


def test_overridden_parameter_is_recorded_as_a_deliberate_difference(repo, tmp_path):
    original = run_id_of(run_proj("run", repo.url, "-P", "epochs=10", cwd=tmp_path, check_exit=0))
    again = run_id_of(run_proj("rerun", original, "-P", "epochs=20", cwd=tmp_path, check_exit=0))
    assert show(again, tmp_path)["reproduction"]["deliberate"] == ["parameter epochs=20 (was 10)"]
    changes = diff_of(original, again, tmp_path)["changes"]
    assert {"section": "parameters", "name": "epochs", "a": 10, "b": 20, "kind": "changed"} in changes
    text = run_proj("runs", "diff", original, again, cwd=tmp_path, check_exit=0).stdout
    assert "  epochs: 10 -> 20" in text and "inputs (source, parameters, command, environment): different" in text


def _forget_head_commit(repo: GitRepo) -> None:
    repo.git("reset", "--quiet", "--hard", "HEAD~1")
    repo.git("reflog", "expire", "--expire=now", "--all")
    repo.git("gc", "--quiet", "--prune=now")


def test_missing_commit_is_an_error_unless_drift_is_allowed(repo, tmp_path):
    repo.commit({"extra.txt": "soon gone\n"}, "to be rewritten")
    original = run_id_of(run_proj("run", repo.url, "-P", "epochs=5", cwd=tmp_path, check_exit=0))
    gone = show(original, tmp_path)["source"]["commit"]
    _forget_head_commit(repo)
    fresh = {"PROJ_HOME": str(tmp_path / "fresh-home")}  # no mirror that still holds the commit
    refused = run_proj("rerun", original, cwd=tmp_path, env=fresh)
    assert refused.returncode == SETUP
    assert f"Cannot reproduce run {original} exactly: Unknown version '{gone}'" in refused.stderr
    assert "--allow-drift" in refused.stderr
    drifted = run_proj("rerun", original, "--allow-drift", cwd=tmp_path, env=fresh, check_exit=0)
    record = show(run_id_of(drifted), tmp_path)
    assert record["reproduction"]["drift"] == [f"commit {gone} is gone; ran the default branch instead"]
    assert record["source"]["commit"] == repo.head()


def test_changes_that_no_longer_apply_are_drift(repo, tmp_path):
    repo.write({"train.py": (EXAMPLE / "train.py").read_text() + "# local edit\n"})
    original = run_id_of(run_proj("run", ".", "-P", "epochs=5", cwd=repo.path, check_exit=0))
    card = tmp_path / "card.yaml"
    run_proj("runs", "export", original, "-o", str(card), cwd=repo.path, check_exit=0)
    data = yaml.safe_load(card.read_text())
    broken = data["source"]["diff"].replace(' if __name__ == "__main__":', ' if __name__ == "__other__":')
    assert broken != data["source"]["diff"]  # a context line the commit does not have
    import hashlib

    data["source"].update(diff=broken, diff_sha256=hashlib.sha256(broken.encode()).hexdigest())
    card.write_text(yaml.safe_dump(data))
    refused = run_proj("rerun", str(card), "--exact", cwd=repo.path)  # the recorded changes, not the checkout
    assert refused.returncode == SETUP and "do not apply to commit" in refused.stderr
    drifted = run_proj("rerun", str(card), "--exact", "--allow-drift", cwd=repo.path, check_exit=0)
    drift = show(run_id_of(drifted), repo.path)["reproduction"]["drift"]
    assert len(drift) == 1 and "ran the commit without them" in drift[0]


def test_diff_of_two_unrelated_runs_lists_what_differs(tmp_path):
    first = tmp_path / "first"
    first.mkdir()
    (first / "MLproject").write_text("entry_points:\n  main:\n    parameters: {x: int}\n    command: 'exit {x}'\n")
    a = run_id_of(run_proj("run", str(first), "-P", "x=0", cwd=tmp_path, check_exit=0))
    b = run_id_of(run_proj("run", str(first), "-P", "x=3", cwd=tmp_path))
    changes = {(c["section"], c["name"]): (c["a"], c["b"]) for c in diff_of(a, b, tmp_path)["changes"]}
    assert changes[("parameters", "x")] == (0, 3)
    assert changes[("command", "command")] == ("exit 0", "exit 3")
    assert changes[("outcome", "status")] == ("FINISHED", "FAILED")
    assert changes[("outcome", "exit_code")] == (0, 3)


def test_lock_packages_are_compared_by_name_and_version():
    """Each lock is read by the kind that wrote it; a kind not installed here compares it whole."""
    from runner.rundiff import lock_packages

    requirements = b"# lock\nnumpy==1.26.4 \\\n    --hash=sha256:abc\npandas==2.2.0\nmylib @ file:///wheels/mylib.whl\n"
    assert lock_packages("virtualenv", requirements) == {
        "numpy": "1.26.4", "pandas": "2.2.0", "mylib": "file:///wheels/mylib.whl"}
    conda = yaml.safe_dump({"version": 1, "package": [
        {"name": "greet-tool", "version": "1.0", "platform": "linux-64", "manager": "conda"},
        {"name": "requests", "version": "2.31.0", "platform": "linux-64", "manager": "pip"}]}).encode()
    assert lock_packages("conda", conda) == {"greet-tool": "1.0", "pip:requests": "2.31.0"}
    assert lock_packages("docker", b'{"base": {"id": "sha256:1"}, "image": "sha256:2"}') == {
        "base.id": "sha256:1", "image": "sha256:2"}
    assert lock_packages("no-such-kind", b"abc") == {
        "lock (sha256)": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}


def test_card_keeps_binary_changes(repo, tmp_path):
    (repo.path / "blob.bin").write_bytes(bytes(range(256)))
    original = run_id_of(run_proj("run", ".", "-P", "epochs=3", cwd=repo.path, check_exit=0))
    card = run_proj("runs", "export", original, cwd=repo.path, check_exit=0).stdout
    assert "diff_base64:" in card or "GIT binary patch" in card
    path = tmp_path / "card.yaml"
    path.write_text(card)
    again = run_id_of(run_proj("rerun", str(path), cwd=repo.path, check_exit=0))
    assert show(again, repo.path)["source"]["diff_hash"] == show(original, repo.path)["source"]["diff_hash"]
    subprocess.run(["git", "status"], cwd=repo.path, check=True, capture_output=True)
