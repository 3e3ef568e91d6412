"""Secrets: a re-run of a run whose parameter held a secret, proj's own messages, URL query tokens.

The secret is the value of API_TOKEN, a variable whose name marks it secret (runner.secrets).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from conftest import run_id_of, run_proj
from helpers.exitcodes import SETUP, USAGE
from helpers.gitrepo import GitRepo
from helpers.processes import processes_of_run

pytestmark = [pytest.mark.git, pytest.mark.usefixtures("git_available")]

SECRET = "s3cr3t-Token-4711-abc"
SPEC = """\
name: secrets
entry_points:
  main:
    parameters:
      token: string
      count: {type: int, default: 1}
    command: "python3 digest.py {token} {count}"
"""
DIGEST_PY = """\
import hashlib, sys
print("digest", hashlib.sha256(sys.argv[1].encode()).hexdigest()[:16], "count", sys.argv[2])
"""
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()[:16]
WITH_SECRET = {"API_TOKEN": SECRET}


@pytest.fixture
def repo(tmp_path) -> GitRepo:
    return GitRepo.create(tmp_path / "repo", {"MLproject": SPEC, "digest.py": DIGEST_PY})


def runs_in(cwd: Path) -> list[dict]:
    return json.loads(run_proj("runs", "list", "--format", "json", cwd=cwd, check_exit=0).stdout)


@pytest.fixture
def original(repo, tmp_path) -> str:
    result = run_proj("run", repo.url, "-P", f"token={SECRET}", cwd=tmp_path, env=WITH_SECRET, check_exit=0)
    assert f"digest {DIGEST}" in result.stdout and SECRET not in result.stderr
    return run_id_of(result)


def test_a_rerun_takes_the_secret_from_the_variable_that_held_it(original, tmp_path):
    result = run_proj("rerun", original, cwd=tmp_path, env=WITH_SECRET, check_exit=0)
    assert f"digest {DIGEST} count 1" in result.stdout  # the real value, not ***
    again = json.loads(run_proj("runs", "show", run_id_of(result), "--format", "json", cwd=tmp_path,
                                env=WITH_SECRET, check_exit=0).stdout)
    token = again["parameters"][0]
    assert (token["given"], token["secret_from"]) == ("***", "API_TOKEN")
    assert again["reproduction"]["deliberate"] == [] and SECRET not in json.dumps(again)
    assert (again["status"], again["exit_code"]) == ("FINISHED", 0) and again["end_time"]
    log = run_proj("runs", "logs", again["run_id"], cwd=tmp_path, check_exit=0).stdout
    assert log == f"digest {DIGEST} count 1\n" and processes_of_run(again["run_id"]) == []


def test_a_rerun_without_the_secret_is_refused_before_it_runs(original, tmp_path):
    before = len(runs_in(tmp_path))
    result = run_proj("rerun", original, cwd=tmp_path)
    assert result.returncode == USAGE and "Traceback" not in result.stderr
    assert (f"Run {original} recorded parameter 'token' as '***': it held a secret, which proj does not keep"
            in result.stderr)
    assert "hint: set API_TOKEN to the value it had (proj takes it from there), or give -P token=VALUE" in result.stderr
    assert "digest" not in result.stdout and len(runs_in(tmp_path)) == before


def test_a_rerun_with_the_value_given_again_runs_it(original, tmp_path):
    result = run_proj("rerun", original, "-P", "token=another", cwd=tmp_path, check_exit=0)
    assert f"digest {hashlib.sha256(b'another').hexdigest()[:16]}" in result.stdout


def test_a_card_names_the_variable_not_the_secret(original, tmp_path):
    card = tmp_path / "card.yaml"
    run_proj("runs", "export", original, "-o", str(card), cwd=tmp_path, env=WITH_SECRET, check_exit=0)
    text = card.read_text()
    assert SECRET not in text and "secret_parameters:\n  token: API_TOKEN" in text
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    refused = run_proj("rerun", str(card), cwd=elsewhere)
    assert refused.returncode == USAGE and "recorded parameter 'token' as '***'" in refused.stderr
    result = run_proj("rerun", str(card), cwd=elsewhere, env=WITH_SECRET, check_exit=0)
    assert f"digest {DIGEST}" in result.stdout


@pytest.mark.parametrize("arguments", [
    ["-P", "token=x", "-P", f"count={SECRET}"],  # a parameter error quoting the value
    ["-e", SECRET],  # an unknown entry point, named in the message
    ["-P", "token=x", "--experiment-name", SECRET, "--tracking-uri", f"/proc/{SECRET}/store"],
])
def test_proj_s_own_error_messages_are_redacted(repo, tmp_path, arguments):
    result = run_proj("run", str(repo.path), *arguments, cwd=tmp_path, env=WITH_SECRET)
    assert result.returncode in (USAGE, SETUP) and "proj: error:" in result.stderr
    assert SECRET not in result.stderr and SECRET not in result.stdout and "***" in result.stderr


def test_query_string_tokens_are_masked_in_messages(tmp_path):
    uri = f"file://{tmp_path}/missing.git?private_token={SECRET}&ref=main"
    result = run_proj("run", uri, cwd=tmp_path)
    assert result.returncode == SETUP and "Traceback" not in result.stderr
    assert SECRET not in result.stderr and "private_token=***&ref=main" in result.stderr
