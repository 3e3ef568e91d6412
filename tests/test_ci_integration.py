"""The CI story of issue 19, for real: a project with a remote, a committed run card, and a fresh
clone re-running it as a CI job would (`env -i`-style environment, CI=true, a fresh PROJ_HOME,
no terminal); the GitHub action and the GitLab template checked against their public schemas
(check-jsonschema's vendored copies) and their shell run with bash, step by step.

GitHub's own actions (setup-python, cache) and GitLab's runner cannot run here: the tests run the
shell the action and the template contain, with the variables those runners would set."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT, run_proj
from helpers.exitcodes import DIFFERS
from helpers.gitrepo import GitRepo

ACTION = REPO_ROOT / "action.yml"
GITLAB_TEMPLATE = REPO_ROOT / "ci" / "gitlab" / "proj.gitlab-ci.yml"

MLPROJECT = """\
name: score
python_env: python_env.yaml
entry_points:
  main:
    parameters: {alpha: {type: float, default: 0.5}}
    command: "python train.py {alpha}"
"""
TRAIN = """\
import json, os, sys
alpha = float(sys.argv[1])
with open(os.path.join(os.environ["PROJ_OUTPUT_DIR"], "metrics.jsonl"), "a") as out:
    out.write(json.dumps({"key": "rmse", "value": 1.0 / (1.0 + alpha)}) + "\\n")
    out.write(json.dumps({"key": "r2", "value": 0.25}) + "\\n")
print("trained with", alpha)
"""


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
                          capture_output=True, text=True, timeout=120, check=False)


# --- the schemas -----------------------------------------------------------------------------


def test_the_action_and_the_template_pass_their_public_schemas(tmp_path):
    action = check_jsonschema("vendor.github-actions", ACTION)
    template = check_jsonschema("vendor.gitlab-ci", GITLAB_TEMPLATE)
    assert action.returncode == 0, action.stdout + action.stderr
    assert template.returncode == 0, template.stdout + template.stderr
    broken = tmp_path / "action.yml"  # the check can fail: an action without `runs`
    broken.write_text(ACTION.read_text().split("\nruns:")[0] + "\n")
    assert check_jsonschema("vendor.github-actions", broken).returncode != 0


def test_the_workflows_in_docs_ci_pass_their_schemas(tmp_path):
    text = (REPO_ROOT / "docs" / "ci.md").read_text()
    blocks = re.findall(r"```yaml\n# (\S+)\n(.*?)```", text, re.DOTALL)
    kinds = {".github/workflows/reproduce.yml": "vendor.github-workflows", ".gitlab-ci.yml": "vendor.gitlab-ci"}
    assert {name for name, _ in blocks} >= set(kinds)
    for name, body in blocks:
        if name in kinds:
            path = tmp_path / name.replace("/", "_")
            path.write_text(body)
            result = check_jsonschema(kinds[name], path)
            assert result.returncode == 0, (name, result.stdout + result.stderr)


# --- a project with a remote and a committed card -----------------------------------------------


@dataclass
class Story:
    remote: Path
    card_run: str
    root: Path

    def fresh_clone(self, name: str) -> Path:
        clone = self.root / name
        subprocess.run(["git", "clone", "--quiet", str(self.remote), str(clone)], check=True)
        return clone


@pytest.fixture
def story(tmp_path) -> Story:
    """`proj run .` in a clone with a remote, its card exported, committed and pushed."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(remote)], check=True)
    work = GitRepo.create(tmp_path / "work", {"MLproject": MLPROJECT, "python_env.yaml": 'python: "3.11"\n',
                                             "train.py": TRAIN, ".gitignore": ".proj/\n"})
    work.git("branch", "-M", "main")
    work.git("remote", "add", "origin", "../remote.git")
    work.git("push", "--quiet", "origin", "main")
    ran = run_proj("run", ".", "--env-manager", "uv", "--format", "json", cwd=work.path, check_exit=0)
    run_id = json.loads(ran.stdout)["run_id"]
    exported = run_proj("runs", "export", run_id, "-o", "card.yaml", cwd=work.path, check_exit=0)
    assert "warning" not in exported.stderr  # the commit is pushed and the remote fetchable
    card = yaml.safe_load((work.path / "card.yaml").read_text())
    assert (card["card_version"], card["source"]["kind"], card["source"]["location"]) == (2, "git", str(remote))
    work.commit({"card.yaml": (work.path / "card.yaml").read_text()}, "the baseline run card")
    work.git("push", "--quiet", "origin", "main")
    return Story(remote, run_id, tmp_path)


def ci_environment(home: Path, venv_bin: Path | None = None) -> dict[str, str]:
    """What a CI job's shell starts with: no terminal variables, no proj settings, a new PROJ_HOME."""
    path = f"{venv_bin or Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": path, "HOME": str(home), "CI": "true", "LANG": "C.UTF-8", "PROJ_HOME": str(home / "proj-home"),
            "PROJ_CEILING_DIRECTORIES": str(home.parent)}


def proj_in_ci(clone: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", *args], cwd=clone, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.uv
@pytest.mark.git
def test_the_ci_story_end_to_end(story, tmp_path):
    clone = story.fresh_clone("ci")
    env = ci_environment(tmp_path / "ci-home")
    checked = proj_in_ci(clone, env, "rerun", "card.yaml", "--check", "--tolerance", "rmse=1e-6")
    assert checked.returncode == 0, checked.stderr
    assert f"using the checkout {clone}" in checked.stderr
    assert "reproduced: run" in checked.stdout and f"matches run {story.card_run[:12]}" in checked.stdout
    assert (clone / ".proj").is_dir()  # the re-run is recorded in the clone's own store

    GitRepo(clone).commit({"train.py": TRAIN.replace("1.0 / (1.0 + alpha)", "1.0 / (1.0 + alpha) + 0.01")},
                          "a change that moves rmse")
    moved = proj_in_ci(clone, env, "rerun", "card.yaml", "--check", "--tolerance", "rmse=1e-6",
                       "--format", "github")
    assert moved.returncode == DIFFERS, moved.stderr
    annotations = [line for line in moved.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 1 and "title=proj check%3A metric rmse differs::metric rmse: 0.666" in annotations[0]
    assert annotations[0].startswith("::error file=card.yaml,line=")

    within = proj_in_ci(clone, env, "rerun", "card.yaml", "--check", "--tolerance", "rmse=5%", "--format", "json")
    result = json.loads(within.stdout)
    assert within.returncode == 0 and result["check"]["reproduced"] and result["reproduces"] == story.card_run
    assert "trained with 0.5" in within.stderr  # the program's output moved off stdout

    asked = proj_in_ci(clone, env, "rerun", "card.yaml", "--check", "-P", "alpha=1", "--tolerance", "rmse=inf")
    rows = {line.split("  ")[0]: line for line in asked.stdout.splitlines()}
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert rows["parameters: alpha"].endswith("asked for (-P)") and rows["command"].endswith("asked for (-P)")
    assert rows["source: commit"].endswith("the checkout")


@pytest.mark.uv
@pytest.mark.git
def test_exact_runs_the_recorded_commit_from_the_clone(story, tmp_path):
    clone = story.fresh_clone("exact")
    (clone / "train.py").write_text(TRAIN.replace("0.25", "0.5"))  # uncommitted: --exact ignores it
    env = ci_environment(tmp_path / "exact-home")
    done = proj_in_ci(clone, env, "rerun", "card.yaml", "--exact", "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "taking commit " in done.stderr and f"from the clone {clone}" in done.stderr
    elsewhere = proj_in_ci(tmp_path, env, "rerun", str(clone / "card.yaml"), "--check")  # outside any clone
    assert elsewhere.returncode == 0 and "using the checkout" not in elsewhere.stderr, elsewhere.stderr


@pytest.mark.uv
@pytest.mark.git
def test_a_card_with_uncommitted_changes_says_the_checkout_runs_without_them(story, tmp_path):
    work = story.root / "work"
    (work / "train.py").write_text(TRAIN.replace("0.25", "0.5"))  # r2 moves; never committed
    ran = run_proj("run", ".", "--env-manager", "uv", "--format", "json", cwd=work, check_exit=0)
    card = tmp_path / "dirty.yaml"
    run_proj("runs", "export", json.loads(ran.stdout)["run_id"], "-o", str(card), cwd=work, check_exit=0)
    clone = story.fresh_clone("dirty")
    (clone / "dirty.yaml").write_text(card.read_text())
    env = ci_environment(tmp_path / "dirty-home")
    checkout = proj_in_ci(clone, env, "rerun", "dirty.yaml", "--check")
    assert checkout.returncode == DIFFERS and "metric r2" in checkout.stdout, checkout.stdout + checkout.stderr
    assert "the card's uncommitted changes are not applied; --exact runs the recorded commit with them" in (
        checkout.stderr)
    exact = proj_in_ci(clone, env, "rerun", "dirty.yaml", "--check", "--exact")
    assert exact.returncode == 0, exact.stdout + exact.stderr


@pytest.mark.uv
@pytest.mark.git
def test_a_shallow_clone_without_the_recorded_commit_runs_its_checkout(story, tmp_path):
    clone = tmp_path / "shallow"  # what actions/checkout makes by default: the pushed commit only
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", story.remote.as_uri(), str(clone)], check=True)
    env = ci_environment(tmp_path / "shallow-home")
    done = proj_in_ci(clone, env, "rerun", "card.yaml", "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"using the checkout {clone} (commit" in done.stderr
    assert "a shallow clone of the card's remote" in done.stderr


# --- the action's and the template's shell, run with bash ---------------------------------------


def action_steps() -> list[dict]:
    return yaml.safe_load(ACTION.read_text())["runs"]["steps"]


def _inputs(given: dict[str, str]) -> dict[str, str]:
    declared = yaml.safe_load(ACTION.read_text())["inputs"]
    return {name: given.get(name, spec.get("default", "")) for name, spec in declared.items()}


def run_action_step(step: dict, inputs: dict[str, str], env: dict[str, str], cwd: Path,
                    files: dict[str, Path]) -> subprocess.CompletedProcess[str]:
    """One `run:` step as the runner does it: its env with ${{ inputs.X }} filled in, then bash."""
    step_env = {k: re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], str(v))
                for k, v in (step.get("env") or {}).items()}
    assert "${{" not in step["run"], "the shell must read inputs from variables"
    exported = dict(line.split("=", 1) for line in files["GITHUB_ENV"].read_text().splitlines() if "=" in line)
    files["GITHUB_OUTPUT"].write_text("")
    full = {**env, **exported, **step_env, **{k: str(v) for k, v in files.items()}}
    return subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step["run"]], cwd=cwd,
                          env=full, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900,
                          check=False)


def test_the_actions_shell_runs_on_macos_bash_3():
    """A bash before 4.4 (macOS's /bin/bash is 3.2) takes "${args[@]}" of an empty array (no args,
    no tolerances) as unbound under `set -u`; bash 5 here does not, so the steps' options are checked."""
    for step in action_steps():
        if "run" in step:
            assert not re.search(r"set -\w*u|nounset", step["run"]), step["name"]
            assert step["run"].lstrip().startswith("set -eo pipefail"), step["name"]


def fresh_venv(where: Path) -> Path:
    """A job's python: a new virtual environment (the system's packages visible, as on a runner
    image with its tools; proj itself is installed by the step under test)."""
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(where)], check=True)
    return where / "bin"


@pytest.mark.uv
@pytest.mark.git
@pytest.mark.pypi  # pip builds proj from the action's folder with hatchling fetched for the build
def test_the_actions_steps_reproduce_the_card_and_flag_a_moved_metric(story, tmp_path):
    clone = story.fresh_clone("gh")
    bin_folder = fresh_venv(tmp_path / "runner-python")
    env = {**ci_environment(tmp_path / "gh-home", bin_folder), "GITHUB_ACTION_PATH": str(REPO_ROOT),
           "RUNNER_TEMP": str(tmp_path / "runner-temp"), "GITHUB_WORKSPACE": str(clone)}
    files = {name: tmp_path / name.lower() for name in ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    for path in files.values():
        path.write_text("")
    inputs = _inputs({"card": "card.yaml", "tolerance": "rmse=1e-6 *=1e-9"})
    shell_steps = [s for s in action_steps() if "run" in s]
    assert [s["name"] for s in shell_steps] == ["Install proj", "Validate", "Run", "Re-run the card and check it"]
    outputs = {}
    for step in shell_steps:
        done = run_action_step(step, inputs, env, clone, files)
        assert done.returncode == 0, (step["name"], done.stdout, done.stderr)
        outputs[step["name"]] = dict(line.split("=", 1) for line in files["GITHUB_OUTPUT"].read_text().splitlines())
    assert (bin_folder / "proj").exists()  # installed into the job's python by the action
    assert outputs["Re-run the card and check it"]["reproduced"] == "true"
    assert re.fullmatch(r"[0-9a-f]{32}", outputs["Re-run the card and check it"]["run-id"])
    assert "### reproduced" in files["GITHUB_STEP_SUMMARY"].read_text()

    (clone / "train.py").write_text(TRAIN.replace("1.0 / (1.0 + alpha)", "1.0 / (1.0 + alpha) + 0.01"))
    moved = run_action_step(shell_steps[-1], inputs, env, clone, files)
    assert moved.returncode == DIFFERS, moved.stderr
    assert "title=proj check%3A metric rmse differs::" in moved.stdout
    assert "reproduced=false" in files["GITHUB_OUTPUT"].read_text()


def gitlab_job(name: str) -> dict:
    """A job of the template with its `extends` resolved (GitLab merges the hashes, deepest first)."""
    template = yaml.safe_load(GITLAB_TEMPLATE.read_text())
    job = dict(template[name])
    parent = job.pop("extends", None)
    return {**gitlab_job(parent), **job} if parent else job


def test_gitlab_jobs_are_hidden_and_complete():
    template = yaml.safe_load(GITLAB_TEMPLATE.read_text())
    jobs = [name for name in template if name not in ("variables",)]
    assert jobs and all(name.startswith(".") for name in jobs)  # including the template adds no job
    for name in (".proj-validate", ".proj-run", ".proj-rerun-check"):
        job = gitlab_job(name)
        assert job["before_script"] and job["script"] and job["image"].startswith("python:")


@pytest.mark.uv
@pytest.mark.git
def test_the_gitlab_templates_script_reproduces_the_card(story, tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(wheels), str(REPO_ROOT)],
                   check=True, capture_output=True)
    wheel = next(wheels.glob("proj_runner-*.whl"))
    clone = story.fresh_clone("gl")
    bin_folder = fresh_venv(tmp_path / "job-python")
    job = gitlab_job(".proj-rerun-check")
    template_variables = yaml.safe_load(GITLAB_TEMPLATE.read_text())["variables"]
    variables = {k: str(v).replace("$CI_PROJECT_DIR", str(clone)) for k, v in template_variables.items()}
    variables.update(PROJ_PACKAGE=str(wheel), PROJ_CARD="card.yaml", PROJ_TOLERANCE="rmse=1e-6")
    env = {**ci_environment(tmp_path / "gl-home", bin_folder), **variables, "CI_PROJECT_DIR": str(clone),
           "PIP_NO_INDEX": "1"}  # the wheel's dependencies are already on the machine
    script = "\n".join([*job["before_script"], *job["script"]])

    def job_run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script], cwd=clone,
                              env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900,
                              check=False)

    done = job_run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reproduced: run" in done.stdout and (clone / ".cache" / "proj").is_dir()
    (clone / "train.py").write_text(TRAIN.replace("0.25", "0.3"))
    moved = job_run()
    assert moved.returncode == DIFFERS and "NOT reproduced" in moved.stdout and "metric r2" in moved.stdout
