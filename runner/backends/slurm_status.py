"""Reading what Slurm says about jobs: `scontrol show job -o` and `sacct -P` output (pure).

Job ids are Slurm's: "123" for a job, "123_4" for element 4 of job array 123. A pending array
is reported as one line for all the elements not started yet (`ArrayTaskId=4-9%2`); each of
those elements gets that line's status.
"""

from __future__ import annotations

import re
import time

from runner.backends.base import JobState, JobStatus

# Slurm's job states, by what they mean for the run (squeue(1), "JOB STATE CODES").
_WAITING = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD",
            "SPECIAL_EXIT"}
_FAILED = {"FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED",
           "REVOKED"}
_FIELD = re.compile(r"(?:^|\s)(JobId|ArrayJobId|ArrayTaskId|JobState|Reason|ExitCode|EndTime)=(\S*)")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def job_state(slurm_state: str) -> JobState:
    """Slurm's state word (sacct may add "by UID") as one of ours; anything unknown counts as
    still running, so a state this code has never seen never ends a run early."""
    word = slurm_state.split()[0].rstrip("+") if slurm_state.strip() else ""
    if word in _WAITING:
        return JobState.PENDING
    if word == "COMPLETED":
        return JobState.SUCCEEDED
    if word == "CANCELLED":
        return JobState.CANCELLED
    if word in _FAILED:
        return JobState.FAILED
    return JobState.RUNNING  # RUNNING, COMPLETING, SUSPENDED, STOPPED, SIGNALING, STAGE_OUT, ...


def exit_code(text: str) -> int | None:
    """`3:0` (code:signal) → 3; `0:15` (ended by SIGTERM) → 143, as a shell reports it."""
    code, _, signal = text.partition(":")
    try:
        code_value, signal_value = int(code), int(signal or 0)
    except ValueError:
        return None
    return 128 + signal_value if signal_value else code_value


def parse_scontrol(text: str) -> dict[str, JobStatus]:
    """`scontrol show job -o` output (one line per job, or per array element) by job id."""
    statuses: dict[str, JobStatus] = {}
    for line in text.splitlines():
        fields: dict[str, str] = {}
        for match in _FIELD.finditer(line):
            fields.setdefault(match.group(1), match.group(2))  # the first: later ones may be paths
        if "JobId" not in fields or "JobState" not in fields:
            continue
        status = _status(fields["JobState"], fields.get("ExitCode", ""), fields.get("Reason", ""),
                         fields.get("EndTime", ""))
        for job_id in _element_ids(fields):
            statuses[job_id] = status
    return statuses


def parse_sacct(text: str) -> dict[str, JobStatus]:
    """`sacct -n -P -X -o JobID,State,ExitCode,End` output by job id."""
    statuses: dict[str, JobStatus] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 4 or not parts[0]:
            continue
        job_id, state, code, end = parts[:4]
        array_id, _, tasks = job_id.partition("_")
        ids = [f"{array_id}_{i}" for i in _indices(tasks.strip("[]"))] if tasks else [job_id]
        for one in ids:
            statuses[one] = _status(state, code, "", end)
    return statuses


def _status(state: str, code: str, reason: str, end: str) -> JobStatus:
    ours = job_state(state)
    final = ours.is_final
    return JobStatus(ours, exit_code(code) if final else None, state.split()[0] if state.strip() else "",
                     "" if reason in ("None", "(null)") else reason, _when(end) if final else None)


def _element_ids(fields: dict[str, str]) -> list[str]:
    array_id, tasks = fields.get("ArrayJobId"), fields.get("ArrayTaskId")
    if not array_id or not tasks:
        return [fields["JobId"]]
    return [f"{array_id}_{index}" for index in _indices(tasks)]


def _indices(expression: str) -> list[int]:
    """`4-9%2` or `1,3-5` → the indices it names (the `%N` throttle is not an index)."""
    indices: list[int] = []
    for part in expression.split("%")[0].split(","):
        low, _, high = part.partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            indices.extend(range(int(low), int(high or low) + 1))
    return indices


def _when(text: str) -> float | None:
    try:
        return time.mktime(time.strptime(text, _TIME_FORMAT))
    except (ValueError, OverflowError):
        return None  # "Unknown", "None"
