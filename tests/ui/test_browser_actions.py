"""Searching and changing runs in a real headless chromium against `proj ui` started as a
subprocess: the search box (MLflow's syntax) and its errors, tag and status filters, and each
action (tag, untag, rename, delete, restore) through the page's own forms, checked with
`proj runs show`; and a page of another origin whose POST, without the token, is refused."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import DATA
from helpers.http_files import serve_folder
from ui.conftest import UiServer, UiStore, expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> UiStore:
    base = tmp_path_factory.mktemp("browser-actions")
    shutil.copytree(DATA / "ui-runs", base / "project")
    store = UiStore(base / "store", base / "project",
                    {"PROJ_HOME": str(base / "home"), "PROJ_TRACKING_URI": str(base / "store")})
    for name, lr in (("slow", "0.01"), ("steady", "0.1"), ("fast", "0.5")):
        store.run(name, "-P", f"lr={lr}", "--experiment-name", "tuning", "--tag", f"speed={name}")
    store.run("other", "--experiment-name", "misc")
    return store


@pytest.fixture(scope="module")
def server(store, tmp_path_factory):
    running = UiServer(store, tmp_path_factory.mktemp("actions-server") / "proj-ui.log")
    yield running
    assert running.stop() == 0, running.log.read_text()


def shown(store: UiStore, run_id: str) -> dict:
    return json.loads(store.proj("runs", "show", run_id, "--format", "json").stdout)


def names(page) -> list[str]:
    return page.locator("#runs tbody a.run-link").all_inner_texts()


def test_search_with_mlflows_syntax(tab, server, store):
    page = tab.page
    page.goto(server.url + "/")
    page.fill("input[name=filter]", "metrics.rmse < 0.4 and params.lr >= 0.1")
    page.click("button:has-text('Filter')")
    page.wait_for_url("**filter=*")
    assert sorted(names(page)) == ["other", "steady"]  # other: lr's default 0.1
    assert page.input_value("input[name=filter]") == "metrics.rmse < 0.4 and params.lr >= 0.1"
    page.fill("input[name=filter]", "tags.speed = 'fast' or params.lr = '1'")
    page.press("input[name=filter]", "Enter")
    expect(page.locator("#search-error")).to_contain_text("OR is not supported")
    assert page.locator("#runs").count() == 0
    # the page answers 400 (the search is the user's mistake), which chromium logs as an error
    tab.errors.remove("Failed to load resource: the server responded with a status of 400 (Bad Request)")
    page.fill("input[name=filter]", "attributes.status = 'FINISHED' and tags.speed LIKE 's%'")
    page.press("input[name=filter]", "Enter")
    expect(page.locator("#run-count")).to_contain_text("of 2")
    assert sorted(names(page)) == ["slow", "steady"]


def test_tag_and_status_filters(tab, server, store):
    page = tab.page
    page.goto(server.url + "/?columns=chosen&tags=speed")
    page.click("#runs a.tag-filter:text-is('fast')")  # a tag value adds itself to the search
    page.wait_for_url("**filter=*")
    assert page.input_value("input[name=filter]") == "tags.speed = 'fast'" and names(page) == ["fast"]
    page.select_option("select[name=status]", "FAILED")
    page.click("button:has-text('Filter')")
    page.wait_for_url("**status=FAILED*")
    expect(page.locator("p.empty")).to_contain_text("No runs match")


def test_each_action_through_the_pages_forms(tab, server, store):
    page = tab.page
    run_id = store.runs["steady"]
    page.goto(f"{server.url}/runs/{run_id}")
    page.fill("form.add-tag input[name=key]", "owner")
    page.fill("form.add-tag input[name=value]", "<ana>")
    page.click("form.add-tag button")
    expect(page.locator('#tags .chip[data-tag="owner"]')).to_contain_text("owner=<ana>")
    assert shown(store, run_id)["tags"] == {"speed": "steady", "owner": "<ana>"}

    page.click('#tags .chip[data-tag="speed"] button.remove')
    expect(page.locator('#tags .chip[data-tag="speed"]')).to_have_count(0)
    assert shown(store, run_id)["tags"] == {"owner": "<ana>"}

    page.click("#rename summary")
    page.fill("#rename input[name=name]", "steady winner")
    page.fill("#rename textarea[name=description]", "chosen for the paper")
    page.click("#rename button")
    expect(page.locator("h1")).to_contain_text("steady winner")
    expect(page.locator("#description")).to_have_text("chosen for the paper")
    assert shown(store, run_id)["run_name"] == "steady winner"

    page.click("#delete-button")
    expect(page.locator("#deleted")).to_be_visible()
    assert shown(store, run_id)["deleted"] is True
    page.goto(server.url + "/?experiment=tuning")
    assert "steady winner" not in names(page)
    page.goto(server.url + "/?experiment=tuning&deleted=only")
    assert names(page) == ["steady winner"]
    page.click("a.run-link")
    page.click("#restore-button")
    expect(page.locator("#deleted")).to_have_count(0)
    assert shown(store, run_id)["deleted"] is False


def test_a_page_of_another_origin_cannot_change_a_run(tab, server, store, tmp_path):
    """A page served from another port of 127.0.0.1 (another origin) posts the delete form of proj
    ui: without the token, and with its own origin, the browser's POST is refused."""
    run_id = store.runs["fast"]
    (tmp_path / "attack.html").write_text(
        f'<form id="f" method="post" action="{server.url}/runs/{run_id}/actions/delete">'
        '<input name="csrf_token" value="guessed"><button id="go">win a prize</button></form>')
    page = tab.page
    with serve_folder(tmp_path) as attacker:
        page.goto(f"{attacker}/attack.html")
        with page.expect_response(f"{server.url}/runs/{run_id}/actions/delete") as answer:
            page.click("#go")
        assert answer.value.status == 403
        assert "did not come from a page of this server" in page.inner_text("body")
        page.goto(f"{attacker}/attack.html")  # a script of the other origin tries a request of its own
        status = page.evaluate(f"""fetch("{server.url}/runs/{run_id}/actions/tag", {{method: "POST",
            mode: "no-cors", body: new URLSearchParams({{csrf_token: "x", key: "pwned", value: "1"}})}})
            .then(r => r.type)""")
        assert status == "opaque"  # sent, but the answer cannot be read, and it changed nothing
    record = shown(store, run_id)
    assert record["deleted"] is False and "pwned" not in record["tags"]
    # refused requests (403) and the other origin's missing favicon (404) are what this test expects
    tab.errors[:] = [e for e in tab.errors if not e.startswith("Failed to load resource: the server responded with")]
