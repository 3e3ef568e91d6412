"""The pages about several runs, through Starlette's TestClient on a real sweep: the sweep view,
comparisons of any number of runs with all rows or only the differences, and the choice of the
best run (which metric, which direction, which columns)."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from runner.ui.app import create_app
from ui.conftest import SWEEP_LRS, SWEEP_OPTIMIZERS

LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def client(sweep_store) -> TestClient:
    with TestClient(create_app(str(sweep_store.root)), base_url=LOCAL) as test_client:
        yield test_client


def by_value(points: list[dict], metric: str, lowest: bool = True) -> list[dict]:
    """Best first; runs with equal values in the order they started (as the page ranks them)."""
    started = sorted(points, key=lambda r: r["start_time"])
    return sorted(started, key=lambda r: r["metrics"][metric]["last"] * (1 if lowest else -1))


def best_point(points: list[dict], metric: str, lowest: bool = True) -> dict:
    return by_value(points, metric, lowest)[0]


def test_the_sweep_page_names_the_best_point_and_ranks_the_others(client, sweep_store):
    html = client.get(f"/sweeps/{sweep_store.sweep_id}").text
    best = best_point(sweep_store.points, "rmse")
    # loss, rmse and val_accuracy are all on every run; the judged metric is the first by name
    assert re.search(r'id="best-run" href="/runs/' + best["run_id"], html)
    assert "Best by <strong>loss</strong> (lowest)" in html
    ranked = re.findall(r'<tr data-run-id="([0-9a-f]{32})"', html)
    expected = [r["run_id"] for r in by_value(sweep_store.points, "loss")]
    assert ranked == expected and f"{len(SWEEP_LRS) * len(SWEEP_OPTIMIZERS)} runs" in html
    assert html.count('class="run best"') == 1 and html.count('class="point best"') == 1
    assert len(re.findall(r'<polyline class="run[^"]*" data-run-id=', html)) == 15


def test_another_metric_and_direction_choose_another_best_run(client, sweep_store):
    html = client.get(f"/sweeps/{sweep_store.sweep_id}?metric=val_accuracy").text
    best = best_point(sweep_store.points, "val_accuracy", lowest=False)
    assert "Best by <strong>val_accuracy</strong> (highest)" in html and f'href="/runs/{best["run_id"]}"' in html
    worst = best_point(sweep_store.points, "val_accuracy")
    html = client.get(f"/sweeps/{sweep_store.sweep_id}?metric=val_accuracy&goal=min").text
    assert re.search(r'id="best-run" href="/runs/' + worst["run_id"], html)


def test_the_chosen_axes_and_scatter_columns_are_drawn(client, sweep_store):
    html = client.get(f"/sweeps/{sweep_store.sweep_id}?axis=param:optimizer&axis=metric:rmse&axis=metric:loss"
                      "&x=param:lr&y=metric:val_accuracy").text
    titles = re.findall(r'<text class="axis-title"[^>]*>([^<]*)<title>', html)
    assert titles == ["optimizer", "rmse", "loss"]
    assert 'data-x="param:lr" data-y="metric:val_accuracy"' in html
    for query, message in (("x=param:nope", "no column &#39;param:nope&#39;"), ("metric=nope", "no metric"),
                           ("goal=up", "goal must be min or max")):
        answer = client.get(f"/sweeps/{sweep_store.sweep_id}?{query}")
        assert answer.status_code == 400 and message in answer.text


def test_a_sweep_is_found_by_its_id_and_the_table_takes_a_prefix(client, sweep_store):
    assert client.get("/sweeps/" + "0" * 32).status_code == 404
    listed = client.get(f"/api/runs?sweep={sweep_store.sweep_id[:8]}").json()
    assert listed["total"] == 15 and {r["sweep_id"] for r in listed["runs"]} == {sweep_store.sweep_id}


def test_compare_any_number_of_runs_by_sweep_or_by_id(client, sweep_store):
    by_sweep = client.get(f"/api/compare?sweep={sweep_store.sweep_id}").json()
    assert len(by_sweep["runs"]) == 15 and len(by_sweep["diffs"]) == 14
    ids = [r["run_id"] for r in sweep_store.points]
    page = client.get("/compare?" + "&".join(f"run={run_id}" for run_id in ids)).text
    assert "Compare 15 runs" in page
    assert len(re.findall(r'<th class="run-head">', page)) == 15
    assert page.count('class="swatch series-14"') >= 1  # fifteen colours, not ten repeated


def test_only_differences_or_all_rows(client, sweep_store):
    first, second = (r["run_id"] for r in sweep_store.points[:2])
    differing = client.get(f"/compare?run={first}&run={second}").text
    everything = client.get(f"/compare?run={first}&run={second}&all=1").text
    rows = lambda html: re.findall(r'<tr data-section="([^"]*)" data-name="([^"]*)">', html)  # noqa: E731
    assert set(rows(differing)) < set(rows(everything))
    assert ("parameters", "epochs") in rows(everything) and ("parameters", "epochs") not in rows(differing)
    assert ("source", "commit") in rows(everything) and ("outcome", "status") in rows(everything)
    diff = json.loads(client.get(f"/api/compare?run={first}&run={second}").text)["diffs"][0]
    changed = {(c["section"], c["name"]) for c in diff["changes"]}
    assert changed == set(rows(differing))
    table = everything[:everything.index("</table>")]
    marked = {row for row, cells in zip(rows(table), table.split('<tr data-section="')[1:])
              if 'class="value differs"' in cells[:cells.index("</tr>")]}
    assert marked == changed  # in all rows, exactly the differences are highlighted
    assert 'id="rows-toggle" href="?run=' in everything


def test_values_are_rounded_with_the_exact_value_on_hover(client, sweep_store):
    first, second = (r["run_id"] for r in sweep_store.points[:2])
    html = client.get(f"/compare?run={first}&run={second}&all=1").text
    exact = sweep_store.points[0]["metrics"]["loss"]["last"]
    assert f'<span class="num" title="{exact!r}">' in html


def test_chart_settings_keep_the_compared_runs(client, sweep_store):
    first, second = (r["run_id"] for r in sweep_store.points[:2])
    html = client.get(f"/compare?run={first}&run={second}&xaxis=time&scale=log&smooth=0.6").text
    assert 'data-x="time" data-scale="log"' in html
    form = html[html.index('<form class="chart-controls" method="get" data-autosubmit>', html.index('id="metrics"')):]
    assert f'name="run" value="{first}"' in form[:form.index("</form>")]
    assert client.get(f"/compare?run={first}&run={second}&xaxis=wall").status_code == 400
    assert client.get(f"/compare?run={first}&run={second}&smooth=1.5").status_code == 400
