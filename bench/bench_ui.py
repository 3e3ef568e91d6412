"""How fast `proj ui` pages load with many runs: the same requests on a store of 100 runs (the
baseline) and on a store of 10,000 runs, against a real `proj ui` over HTTP.

    python bench/bench_ui.py [--runs 10000] [--repeat 15]

The stores are filled through LocalStore itself (start_run, a metrics file, its summaries stored
as a run's end stores them, end_run), so every run has parameters, a source with a commit, and
five metrics, as real runs do.

Issue 21's target is checked at the end: at 10,000 runs, a filtered page sorted by a metric and
showing five metric columns answers within 3x of the unfiltered first page.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runner.tracking.base import (
    EnvironmentRecord,
    ParameterRecord,
    RunRecord,
    RunStatus,
    SourceRecord,
    launcher_token,
)
from runner.tracking.local import LocalStore

FIVE_METRICS = "metrics=loss,rmse,mae,accuracy,f1&columns=chosen&params=lr,batch"
FILTERED = "filter=metrics.rmse+%3C+0.5+and+params.batch+%3D+%2764%27&sort=metric:rmse&" + FIVE_METRICS
REQUESTS = [
    ("first page, newest first", "/"),
    ("last page", "/?offset={last}"),
    ("sorted by duration", "/?sort=duration&order=desc"),
    ("sorted by a parameter", "/?sort=param:lr&order=desc"),
    ("sorted by a metric", "/?sort=metric:rmse"),
    ("sorted by source (from the JSON record)", "/?sort=source"),
    ("filtered: experiment and parameter", "/?experiment=exp-3&param=batch=64"),
    ("first page, five metric columns", "/?" + FIVE_METRICS),
    ("search filter, sorted by a metric, 5 metrics", "/?" + FILTERED),
    ("JSON: /api/runs", "/api/runs"),
    ("one run's page", "/runs/{some_run}"),
]
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fill(root: Path, count: int) -> str:
    store = LocalStore(root)
    started = time.time() - count * 60
    run_id = ""
    for i in range(count):
        record = _record(i, started + i * 60)
        run_id = store.start_run(record).run_id
        outputs = store.output_dir(run_id)
        finals = {"rmse": (i * 7919 % 1000) / 1000, "mae": (i * 104729 % 1000) / 1250, "accuracy": (i % 97) / 97,
                  "f1": (i % 89) / 89}
        (outputs / "metrics.jsonl").write_text(
            "".join(f'{{"key": "loss", "value": {1 / (step + 1 + i % 5)}, "step": {step}}}\n' for step in range(5))
            + "".join(f'{{"key": "{key}", "value": {value}}}\n' for key, value in finals.items()))
        store.save_metrics(run_id, store.read_metrics(run_id))
        status = RunStatus.FAILED if i % 17 == 0 else RunStatus.FINISHED
        store.end_run(run_id, status, 1 if status is RunStatus.FAILED else 0, record.start_time + 5 + i % 300)
    return run_id


def _record(i: int, start: float) -> RunRecord:
    values = {"lr": f"{(i % 50) / 100 + 0.01:.2f}", "batch": str(2 ** (4 + i % 4)), "note": f"trial {i}"}
    parameters = [ParameterRecord(name, "string", value, value, value, True) for name, value in values.items()]
    return RunRecord(
        experiment=f"exp-{i % 5}", run_name=f"train-{i}", entry_point="main",
        command=f"python train.py --lr {values['lr']}",
        source=SourceRecord(uri=f"/home/user/projects/model-{i % 3}", kind="local",
                            path=f"/home/user/projects/model-{i % 3}",
                            commit=f"{i * 2654435761 % 2**160:040x}", dirty=i % 4 == 0),
        parameters=parameters, environment=EnvironmentRecord(kind="local"), user="user", host="bench",
        platform="Linux", python_version="3.11", proj_version="bench", launcher=launcher_token(), start_time=start)


def medians_ms(urls: list[str], repeat: int) -> list[float]:
    """Each URL's median time. The requests take turns (one of each, `repeat` times), so that a
    busy spell of the machine slows every one of them alike and their ratios stay meaningful."""
    for url in urls:
        for _ in range(3):
            DIRECT.open(url, timeout=60).read()
    samples: list[list[float]] = [[] for _ in urls]
    for _ in range(repeat):
        for url, kept in zip(urls, samples):
            begin = time.perf_counter()
            with DIRECT.open(url, timeout=60) as answer:
                answer.read()
                assert answer.status == 200, url
            kept.append(time.perf_counter() - begin)
    return [statistics.median(kept) * 1000 for kept in samples]


def measure(root: Path, count: int, repeat: int, env: dict) -> list[float]:
    some_run = fill(root, count)
    log = root.parent / f"ui-{count}.log"
    with log.open("w") as output:
        server = subprocess.Popen([sys.executable, "-m", "runner", "ui", "--port", "0", "--tracking-uri", str(root)],
                                  stdout=output, stderr=output, env=env)
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(r"http://127\.0\.0\.1:\d+", log.read_text())):
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"proj ui did not start:\n{log.read_text()}")
            time.sleep(0.05)
        base = found.group(0)
        fields = {"last": max(0, count - 50), "some_run": some_run}
        return medians_ms([base + path.format(**fields) for _, path in REQUESTS], repeat)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--baseline-runs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "PROJ_HOME": str(Path(scratch) / "home")}
        begin = time.perf_counter()
        small = measure(Path(scratch) / "small" / "store", args.baseline_runs, args.repeat, env)
        large = measure(Path(scratch) / "large" / "store", args.runs, args.repeat, env)
        filled = time.perf_counter() - begin
    print(f"median of {args.repeat} requests each (taking turns), over HTTP to a real `proj ui` (50 runs a page); "
          f"stores filled and measured in {filled:.0f} s")
    print(f"  {'request':<46} {args.baseline_runs:>9,} runs {args.runs:>9,} runs   ratio")
    for (title, _), low, high in zip(REQUESTS, small, large):
        print(f"  {title:<46} {low:>10.1f} ms {high:>10.1f} ms   {high / low:5.2f}x")
    paths = [path for _, path in REQUESTS]
    first, five, searched = large[0], large[paths.index("/?" + FIVE_METRICS)], large[paths.index("/?" + FILTERED)]
    verdict = "meets" if searched <= 3 * first else "MISSES"
    print(f"at {args.runs:,} runs the filtered, metric-sorted page with five metric columns takes "
          f"{searched / first:.2f}x the unfiltered first page ({searched / five:.2f}x the same page unfiltered): "
          f"{verdict} the 3x target")


if __name__ == "__main__":
    main()
