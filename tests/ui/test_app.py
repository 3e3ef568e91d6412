"""The web app against a real store, through Starlette's TestClient: the JSON API is the same data as
the command line's JSON, every recorded value is escaped, downloads stay inside the run's folder."""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser

import pytest
from starlette.testclient import TestClient

from runner.ui.app import create_app
from runner.ui.views import _whole_characters
from ui.conftest import started_run_id

LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def client(ui_store) -> TestClient:
    with TestClient(create_app(str(ui_store.root)), base_url=LOCAL) as test_client:
        yield test_client


def strict_json(text: str):
    """Parse as a browser would: NaN and Infinity are not JSON."""
    def refuse(constant):
        raise AssertionError(f"{constant} in a JSON document")
    return json.loads(text, parse_constant=refuse)


def finite(value):
    """The command line's JSON with NaN as the API sends it (null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def names(runs: list[dict]) -> list[str]:
    return [r["run_name"] for r in runs]


# --- the JSON API is the command line's JSON ---------------------------------------------------

def test_run_is_what_runs_show_prints(client, ui_store):
    for name, run_id in ui_store.runs.items():
        shown = json.loads(ui_store.proj("runs", "show", run_id, "--format", "json").stdout)
        assert strict_json(client.get(f"/api/runs/{run_id[:10]}").text) == finite(shown), name


def test_runs_listing_holds_what_runs_list_prints(client, ui_store):
    listed = json.loads(ui_store.proj("runs", "list", "--format", "json").stdout)
    answer = strict_json(client.get("/api/runs").text)
    assert answer["runs"] == finite(listed)
    assert (answer["offset"], answer["limit"], answer["next_offset"]) == (0, 50, None)


def test_compare_holds_what_runs_diff_prints(client, ui_store):
    a, b, c = (ui_store.runs[n] for n in ("baseline", "faster", "xss-probe"))
    answer = client.get(f"/api/compare?run={a}&run={b}&run={c}").json()
    assert answer["runs"] == [a, b, c]
    for diff, other in zip(answer["diffs"], (b, c)):
        printed = json.loads(ui_store.proj("runs", "diff", a, other, "--format", "json").stdout)
        assert diff == finite(printed)
    lr = [ch for ch in answer["diffs"][0]["changes"] if ch["section"] == "parameters"]
    assert lr == [{"section": "parameters", "name": "lr", "a": 0.1, "b": 0.2, "kind": "changed"}]


@pytest.mark.parametrize("runs", ["", "run=RUN", "run=RUN&run=RUN"])
def test_compare_needs_two_different_runs(client, ui_store, runs):
    answer = client.get("/api/compare?" + runs.replace("RUN", ui_store.runs["baseline"]))
    assert answer.status_code == 400
    assert "two or more runs" in answer.json()["error"]


def test_metrics_points_in_order(client, ui_store):
    points = client.get(f"/api/runs/{ui_store.runs['baseline']}/metrics").json()["points"]
    loss = [(p["step"], p["value"]) for p in points if p["key"] == "loss"]
    assert loss == [(1, 10.0), (2, 5.0), (3, 3.33333), (4, 2.5), (5, 2.0)]
    assert [p["value"] for p in points if p["key"] == "grad_norm"] == [2.5, None]


# --- filters, sorting, pages -------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    ("experiment=alpha", {"baseline", "faster", "links"}),
    ("experiment=beta", {"xss-probe"}),
    ("param=lr=0.2", {"faster"}),
    ("param=lr=0.3&param=note=" + "%3Cscript%3Ealert(1)%3C%2Fscript%3E", {"xss-probe"}),
    ("experiment=alpha&param=lr=0.3", set()),
    ("status=finished", {"baseline", "faster", "links", "xss-probe", "locked"}),
    ("status=FAILED", set()),
])
def test_filters(client, query, expected):
    assert set(names(client.get("/api/runs?" + query).json()["runs"])) == expected


def test_a_sweep_that_is_not_there_is_named(client):
    answer = client.get("/api/runs?sweep=0123abcd")
    assert answer.status_code == 404 and "No sweep '0123abcd'" in answer.json()["error"]


@pytest.mark.parametrize("query, expected", [
    ("sort=param:lr&order=desc", ["xss-probe", "faster", "baseline", "locked", "links"]),
    ("sort=param:lr&order=asc", ["baseline", "faster", "xss-probe", "locked", "links"]),
    ("sort=metric:rmse&order=asc", ["baseline", "faster", "xss-probe", "locked", "links"]),
    ("sort=run_name&order=asc", ["baseline", "faster", "links", "locked", "xss-probe"]),
    ("sort=experiment&order=desc", ["locked", "xss-probe", "links", "faster", "baseline"]),
    ("sort=start_time&order=asc", ["baseline", "faster", "links", "xss-probe", "locked"]),
    ("", ["locked", "xss-probe", "links", "faster", "baseline"]),
])
def test_sorting(client, query, expected):
    assert names(client.get("/api/runs?" + query).json()["runs"]) == expected


@pytest.mark.parametrize("column", ["duration", "status", "entry_point", "source", "commit", "exit_code"])
def test_every_column_sorts_both_ways(client, column):
    up = names(client.get(f"/api/runs?sort={column}&order=asc").json()["runs"])
    down = names(client.get(f"/api/runs?sort={column}&order=desc").json()["runs"])
    assert sorted(up) == sorted(down) and len(up) == 5


def test_entry_point_order(client):
    runs = client.get("/api/runs?sort=entry_point&order=asc").json()["runs"]
    assert [r["entry_point"] for r in runs] == ["links", "main", "main", "main", "main"]


def test_pages(client):
    first = client.get("/api/runs?limit=2").json()
    second = client.get("/api/runs?limit=2&offset=2").json()
    last = client.get("/api/runs?limit=2&offset=4").json()
    assert (first["next_offset"], second["next_offset"], last["next_offset"]) == (2, 4, None)
    everything = names(first["runs"]) + names(second["runs"]) + names(last["runs"])
    assert everything == names(client.get("/api/runs").json()["runs"])


@pytest.mark.parametrize("query, message", [
    ("status=DONE", "Unknown status 'DONE'"),
    ("sort=password", "Cannot sort runs by 'password'"),
    ("limit=0", "limit must be a whole number from 1 to 500"),
    ("offset=-1", "offset must be a whole number"),
    ("param=lr", "expected NAME=VALUE"),
])
def test_bad_table_arguments_are_400_with_a_message(client, query, message):
    answer = client.get("/api/runs?" + query)
    assert answer.status_code == 400 and message in answer.json()["error"]
    page = client.get("/?" + query)
    assert page.status_code == 400 and "Error 400" in page.text


# --- the log -----------------------------------------------------------------------------------

def test_log_from_any_offset_and_its_tail(client, ui_store):
    run_id = ui_store.runs["xss-probe"]
    whole = ui_store.proj("runs", "logs", run_id).stdout.encode()
    tail = client.get(f"/api/runs/{run_id}/log").json()
    assert tail == {"offset": 0, "next_offset": len(whole), "size": len(whole), "text": whole.decode(),
                    "status": "FINISHED"}
    for offset in (0, 5, len(whole) - 1, len(whole)):
        chunk = client.get(f"/api/runs/{run_id}/log?offset={offset}").json()
        assert (chunk["offset"], chunk["text"], chunk["next_offset"]) == (offset, whole[offset:].decode(), len(whole))
    past_end = client.get(f"/api/runs/{run_id}/log?offset=99999").json()
    assert past_end["text"] == "" and past_end["next_offset"] == len(whole)
    assert client.get(f"/api/runs/{run_id}/log?offset=x").status_code == 400


@pytest.mark.parametrize("data, kept", [
    (b"plain", b"plain"),
    ("caf\u00e9".encode(), "caf\u00e9".encode()),
    ("caf\u00e9".encode()[:-1], b"caf"),  # the second byte of \u00e9 is still to come
    ("\u20ac".encode()[:2], b""),
    ("x\U0001F600".encode()[:4], b"x"),
    ("x\U0001F600".encode(), "x\U0001F600".encode()),
])
def test_log_chunks_end_on_whole_characters(data, kept):
    assert _whole_characters(data) == kept


# --- escaping ----------------------------------------------------------------------------------

class Elements(HTMLParser):
    """Every element the browser would create from a page, with its attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.script_text = ""
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_text += data


@pytest.mark.parametrize("page", ["/", "/?experiment=beta", "/runs/{xss}", "/compare?run={xss}&run={baseline}"])
def test_recorded_values_are_text_on_every_page(client, ui_store, page):
    html = client.get(page.format(xss=ui_store.runs["xss-probe"], baseline=ui_store.runs["baseline"])).text
    elements = Elements(html)
    scripts = [attrs for tag, attrs in elements.found if tag == "script"]
    assert all(attrs.get("src", "").startswith("/static/") for attrs in scripts) and not elements.script_text.strip()
    assert not [tag for tag, _ in elements.found if tag == "img"]
    assert not [attrs for _, attrs in elements.found if any(name.startswith("on") for name in attrs)]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_experiment_and_run_names_with_markup_are_text(tmp_path, ui_store):
    store, experiment, name = tmp_path / "store", "exp <img src=x onerror=alert(5)>", "run <b>bold</b>"
    result = ui_store.proj("run", ".", "-e", "links", "--experiment-name", experiment, "--run-name", name,
                           "--tracking-uri", str(store))
    run_id = started_run_id(result.stderr)
    with TestClient(create_app(str(store)), base_url=LOCAL) as own:
        for page in ("/", f"/runs/{run_id}"):
            elements = Elements(own.get(page).text)
            assert not [tag for tag, _ in elements.found if tag in ("img", "b")], page
        html = own.get(f"/runs/{run_id}").text
        assert "exp &lt;img src=x onerror=alert(5)&gt;" in html and "run &lt;b&gt;bold&lt;/b&gt;" in html


def test_run_page_escapes_artifact_names_and_log_lines(client, ui_store):
    html = client.get(f"/runs/{ui_store.runs['xss-probe']}").text
    assert "&lt;img src=x onerror=alert(2)&gt;.txt" in html
    assert "note: &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39;" in html  # the log line, quoted by the shell
    assert "<img" not in html


def test_run_page_shows_the_record(client, ui_store):
    html = client.get(f"/runs/{ui_store.runs['xss-probe']}").text
    commit = ui_store.proj("runs", "show", ui_store.runs["xss-probe"], "--format", "json").stdout
    assert json.loads(commit)["source"]["commit"] in html
    assert "+An uncommitted line." in html  # the dirty diff
    assert 'data-metric="loss"' in html and "<polyline" in html
    assert "plots/curve.svg" in html and "model.txt" in html
    locked = client.get(f"/runs/{ui_store.runs['locked']}").text
    assert "python_env.lock" in locked and "Lock:" in locked


def test_a_run_that_never_used_mlflow_has_no_mlflow_section(client, ui_store):
    """Every run gets an MLflow capture; a project that logged nothing into it (a shell command
    here) shows no empty "Logged with MLflow" section claiming its MLflow run ended RUNNING."""
    assert json.loads(ui_store.proj("runs", "show", ui_store.runs["baseline"], "--format", "json").stdout)["mlflow"]
    html = client.get(f"/runs/{ui_store.runs['baseline']}").text
    assert 'id="mlflow"' not in html and "ended RUNNING" not in html


def test_the_time_axis_of_metrics_written_without_timestamps_says_so(client, ui_store):
    """ui-runs writes its metrics file without timestamps: on the time axis nothing can be drawn,
    and the page says why and keeps the settings, instead of dropping the charts and the form."""
    html = client.get(f"/runs/{ui_store.runs['baseline']}?xaxis=time").text
    assert "Written without timestamps, so not on the time axis: grad_norm, loss, rmse." in html
    assert '<select name="xaxis"' in html and 'data-metric="loss"' not in html
    runs = f"run={ui_store.runs['baseline']}&run={ui_store.runs['faster']}"
    compared = client.get(f"/compare?{runs}&xaxis=time").text
    assert "No metric of these runs was written with a timestamp" in compared and '<select name="xaxis"' in compared
    assert "None of these runs recorded metrics" not in compared
    assert 'data-metric="loss"' in client.get(f"/compare?{runs}").text


def test_an_empty_log_is_shown_as_empty(client, ui_store):
    html = client.get(f"/runs/{ui_store.runs['links']}").text  # its command writes only files
    assert '<p class="muted" id="log-empty">The log is empty: the run wrote no output.</p>' in html
    assert 'class="log empty"' in html
    assert 'id="log-empty"' not in client.get(f"/runs/{ui_store.runs['baseline']}").text


# --- downloads ---------------------------------------------------------------------------------

def artifact_url(ui_store, name: str, path: str) -> str:
    return f"/runs/{ui_store.runs[name]}/artifacts/{path}"


def test_artifact_download_is_an_attachment(client, ui_store):
    answer = client.get(artifact_url(ui_store, "baseline", "model.txt"))
    assert answer.status_code == 200 and answer.content == b"model\n"
    assert answer.headers["content-disposition"] == "attachment; filename=\"model.txt\"; filename*=UTF-8''model.txt"
    svg = client.get(artifact_url(ui_store, "baseline", "plots/curve.svg"))
    assert svg.headers["content-type"] == "application/octet-stream"
    assert svg.headers["x-content-type-options"] == "nosniff"
    assert svg.headers["content-disposition"].startswith('attachment; filename="curve.svg"')


def test_awkward_artifact_name_gets_a_safe_disposition(client, ui_store):
    answer = client.get(artifact_url(ui_store, "baseline", "%3Cimg%20src%3Dx%20onerror%3Dalert(2)%3E.txt"))
    assert answer.status_code == 200 and answer.content == b"odd\n"
    assert answer.headers["content-disposition"] == (
        "attachment; filename=\"_img_src_x_onerror_alert_2__.txt\"; "
        "filename*=UTF-8''%3Cimg%20src%3Dx%20onerror%3Dalert%282%29%3E.txt")


@pytest.mark.parametrize("path, status", [
    ("..%2F..%2Fproj.db", 400),
    ("plots%2F..%2F..%2Foutput.log", 400),
    ("%2Fetc%2Fpasswd", 400),
    ("passwd", 400),  # a symlink to /etc/passwd
    ("root%2Fetc%2Fpasswd", 400),  # through a symlink to /
    ("missing.txt", 404),
    ("plots", 404),  # a folder
])
def test_downloads_cannot_leave_the_run_folder(client, ui_store, path, status):
    answer = client.get(artifact_url(ui_store, "links", path))
    assert answer.status_code == status
    assert "root:" not in answer.text
    assert client.get(artifact_url(ui_store, "links", "real.txt")).content == b"kept\n"


def test_kept_files(client, ui_store):
    run_id = ui_store.runs["xss-probe"]
    assert b"+An uncommitted line." in client.get(f"/runs/{run_id}/files/diff.patch").content
    log = client.get(f"/runs/{run_id}/files/output.log")
    assert log.text == ui_store.proj("runs", "logs", run_id).stdout
    assert log.headers["content-disposition"].startswith('attachment; filename="output.log"')
    for name in ("proj.db", "%2E%2E", "outputs", "output.log%2F..%2F..%2Fproj.db"):
        assert client.get(f"/runs/{run_id}/files/{name}").status_code == 404


# --- read-only, headers, errors ----------------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/", "/api/runs", "/runs/{run}", "/api/runs/{run}",
                                  "/runs/{run}/artifacts/model.txt"])
def test_nothing_can_be_changed(client, ui_store, method, path):
    assert client.request(method, path.format(run=ui_store.runs["baseline"])).status_code == 405


def test_security_headers_and_host_check(client):
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "same-origin"
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/", headers={"host": "localhost:5000"}).status_code == 200


@pytest.mark.parametrize("path", ["/runs/{missing}", "/api/runs/{missing}", "/runs/nothex", "/api/runs/nothex/log",
                                  "/nowhere"])
def test_unknown_things_are_404(client, path):
    answer = client.get(path.format(missing="0" * 32))
    assert answer.status_code == 404
    if path.startswith("/api/"):
        assert "error" in answer.json()


def test_static_files_are_served_by_the_app(client):
    assert "poll" in client.get("/static/run.js").text
    assert client.get("/static/style.css").status_code == 200


def test_an_empty_store_shows_no_runs(tmp_path):
    with TestClient(create_app(str(tmp_path / "nothing")), base_url=LOCAL) as empty:
        assert "No runs recorded" in empty.get("/").text
        assert empty.get("/api/runs").json()["runs"] == []


def test_nested_runs_are_hidden_unless_asked_for_as_in_runs_list(tmp_path):
    from helpers.records import new_record
    from runner import lifecycle
    from runner.capture.runs import CapturedChild, Settled
    from runner.lifecycle import Ending
    from runner.tracking.base import MlflowData, RunStatus
    from runner.tracking.local import LocalStore

    store = LocalStore(tmp_path / ".proj")
    parent = lifecycle.start(store, new_record(run_name="parent"))
    parent = lifecycle.end(store, parent, Ending(RunStatus.FINISHED, 0, parent.start_time + 1)).record
    child = new_record(run_name="fold-1", parent_run_id=parent.run_id, status=RunStatus.FINISHED,
                       end_time=parent.end_time, exit_code=None,
                       mlflow=MlflowData(tags={"mlflow.parentRunId": parent.run_id}))
    store.save_settled(parent, Settled(MlflowData(), [CapturedChild(child, {})]))
    with TestClient(create_app(str(store.root)), base_url=LOCAL) as client:
        assert names(client.get("/api/runs").json()["runs"]) == ["parent"]
        assert sorted(names(client.get("/api/runs?nested=all").json()["runs"])) == ["fold-1", "parent"]
        page = client.get("/?nested=all").text
        assert 'name="nested" value="all" checked' in page and "fold-1" in page
        assert "fold-1" not in client.get("/").text
        refused = client.get("/api/runs?nested=yes")
        assert refused.status_code == 400 and "nested must be all" in refused.text
