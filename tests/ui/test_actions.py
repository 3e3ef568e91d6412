"""The UI's only changes (tag, untag, rename, delete, restore), through Starlette's TestClient on a
store of their own: each goes through runner.runmanage and shows in `proj runs show`, and each
guard refuses what it must: no token, a wrong token, another origin, an oversized or odd form, a
server that is not on loopback."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from starlette.testclient import TestClient

from conftest import DATA
from helpers.records import new_record
from runner.tracking.local import LocalStore
from runner.ui.actions import MAX_FORM_BYTES
from runner.ui.app import create_app
from ui.conftest import UiStore

ORIGIN = "http://127.0.0.1:5000"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> UiStore:
    """Two finished runs made by `proj run`, and one still RUNNING (recorded by this process)."""
    base = tmp_path_factory.mktemp("actions")
    shutil.copytree(DATA / "ui-runs", base / "project")
    store = UiStore(base / "store", base / "project",
                    {"PROJ_HOME": str(base / "home"), "PROJ_TRACKING_URI": str(base / "store")})
    store.run("first", "-P", "lr=0.1")
    store.run("second", "-P", "lr=0.2")
    store.runs["running"] = LocalStore(store.root).start_run(new_record(run_name="running")).run_id
    return store


@pytest.fixture(scope="module")
def client(store) -> TestClient:
    with TestClient(create_app(str(store.root)), base_url=ORIGIN, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def token(client, store) -> str:
    page = client.get(f"/runs/{store.runs['first']}").text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def post(client, run_id: str, action: str, fields: dict, *, origin: str | None = ORIGIN, **headers: str):
    if origin is not None:
        headers["origin"] = origin
    return client.post(f"/runs/{run_id}/actions/{action}", data=fields, headers=headers)


def shown(store: UiStore, run_id: str) -> dict:
    return json.loads(store.proj("runs", "show", run_id, "--format", "json").stdout)


def error_of(answer) -> str:
    return re.search(r'<p class="error-message">(.*?)</p>', answer.text, re.S).group(1)


def test_tag_untag_rename_delete_restore_as_the_command_line_sees_them(client, store, token):
    run_id = store.runs["first"]
    answer = post(client, run_id, "tag", {"csrf_token": token, "key": "team", "value": "vision"})
    assert answer.status_code == 303 and answer.headers["location"] == f"/runs/{run_id}"
    assert shown(store, run_id)["tags"] == {"team": "vision"}
    post(client, run_id, "tag", {"csrf_token": token, "key": "stage", "value": "try <1>"})
    post(client, run_id, "untag", {"csrf_token": token, "key": "team"})
    assert shown(store, run_id)["tags"] == {"stage": "try <1>"}
    post(client, run_id, "rename", {"csrf_token": token, "name": "best so far", "description": "lr 0.1\nkeep it"})
    record = shown(store, run_id)
    assert (record["run_name"], record["description"]) == ("best so far", "lr 0.1\nkeep it")
    assert post(client, run_id, "delete", {"csrf_token": token, "next": "/?sort=run_name"}).headers["location"] == \
        "/?sort=run_name"
    assert shown(store, run_id)["deleted"] is True
    listed = json.loads(store.proj("runs", "list", "--format", "json").stdout)
    assert run_id not in [r["run_id"] for r in listed]
    page = client.get(f"/runs/{run_id}").text
    assert 'id="deleted"' in page and 'id="restore-button"' in page and "try &lt;1&gt;" in page
    post(client, run_id, "restore", {"csrf_token": token})
    assert shown(store, run_id)["deleted"] is False


def test_a_refused_change_says_what_the_command_line_says(client, store, token):
    run_id = store.runs["second"]
    cli = store.proj("runs", "tag", run_id, "mlflow.source=x", check_exit=None)
    answer = post(client, run_id, "tag", {"csrf_token": token, "key": "mlflow.source", "value": "x"})
    assert answer.status_code == 400 and "are reserved" in error_of(answer) and "are reserved" in cli.stderr
    running = post(client, store.runs["running"], "delete", {"csrf_token": token})
    assert running.status_code == 400 and "is RUNNING: it cannot be deleted" in error_of(running)
    assert shown(store, run_id)["tags"] == {} and shown(store, store.runs["running"])["deleted"] is False


@pytest.mark.parametrize("fields, headers, status, message", [
    ({}, {}, 403, "no valid CSRF token"),
    ({"csrf_token": "guessed"}, {}, 403, "no valid CSRF token"),
    ({"csrf_token": "{token}"}, {"origin": "http://attacker.example"}, 403, "did not come from a page of this server"),
    ({"csrf_token": "{token}"}, {"origin": "null"}, 403, "did not come from a page of this server"),
    ({"csrf_token": "{token}"}, {"origin": None, "referer": "http://127.0.0.1:6000/page"}, 403,
     "did not come from a page of this server"),
    ({"csrf_token": "{token}"}, {"origin": "http://127.0.0.1:5001"}, 403, "did not come from a page of this server"),
])
def test_changes_from_elsewhere_are_refused(client, store, token, fields, headers, status, message):
    run_id = store.runs["second"]
    form = {key: value.replace("{token}", token) for key, value in {**fields, "key": "x", "value": "y"}.items()}
    answer = post(client, run_id, "tag", form, **{"origin": ORIGIN, **headers})
    assert answer.status_code == status and message in answer.text
    assert shown(store, run_id)["tags"] == {}


def test_a_command_line_client_with_the_token_and_no_origin_is_served(client, store, token):
    run_id = store.runs["second"]
    answer = post(client, run_id, "tag", {"csrf_token": token, "key": "via", "value": "curl"}, origin=None)
    assert answer.status_code == 303
    post(client, run_id, "untag", {"csrf_token": token, "key": "via"}, origin=None)
    assert shown(store, run_id)["tags"] == {}


def test_odd_requests_get_clear_errors(client, store, token):
    run_id = store.runs["second"]
    assert post(client, run_id, "promote", {"csrf_token": token}).status_code == 404
    assert "needs a key" in error_of(post(client, run_id, "tag", {"csrf_token": token, "key": " "}))
    assert client.get(f"/runs/{run_id}/actions/delete").status_code == 405
    big = post(client, run_id, "rename", {"csrf_token": token, "description": "x" * MAX_FORM_BYTES})
    assert big.status_code == 413
    typed = client.post(f"/runs/{run_id}/actions/delete", json={"csrf_token": token}, headers={"origin": ORIGIN})
    assert typed.status_code == 415
    away = post(client, run_id, "tag", {"csrf_token": token, "key": "k", "value": "v", "next": "//attacker.example/"})
    assert away.headers["location"] == f"/runs/{run_id}"  # never sent off this app
    post(client, run_id, "untag", {"csrf_token": token, "key": "k"})
    assert shown(store, run_id)["deleted"] is False and shown(store, run_id)["tags"] == {}


def test_a_server_beyond_loopback_changes_nothing(store):
    with TestClient(create_app(str(store.root), allowed_hosts=None), base_url="http://192.0.2.1:5000",
                    follow_redirects=False) as remote:
        run_id = store.runs["second"]
        page = remote.get(f"/runs/{run_id}").text
        assert "csrf_token" not in page and "read-only" in page
        answer = remote.post(f"/runs/{run_id}/actions/delete", data={"csrf_token": "x"},
                             headers={"origin": "http://192.0.2.1:5000"})
        assert answer.status_code == 403 and "read-only" in answer.text
    assert shown(store, store.runs["second"])["deleted"] is False
