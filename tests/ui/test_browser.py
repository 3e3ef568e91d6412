"""`proj ui` in a real headless browser: Debian's chromium driven by Playwright, against `proj ui`
started as a subprocess on a store filled by real `proj run`s.

Screenshots of the three pages go to $PROJ_TEST_ARTIFACTS (default: a temporary folder) so CI
can keep them; docs/ui-run.png and docs/ui-compare.png are copies of them.
"""

from __future__ import annotations

import pytest

from ui.conftest import XSS_NOTE, UiServer, UiStore, expect, waiting_run

pytestmark = pytest.mark.browser


def table_names(page) -> list[str]:
    return page.locator("#runs tbody a.run-link").all_inner_texts()


def test_runs_table_lists_the_runs_and_filters_narrow_it(tab, ui_server, ui_store, screenshots):
    page = tab.page
    page.goto(ui_server.url + "/")
    assert sorted(table_names(page)) == sorted(ui_store.runs)
    page.screenshot(path=str(screenshots / "ui-runs.png"), full_page=True)

    counts = dict(zip(page.locator("#experiments li[data-experiment] a").all_inner_texts(),
                      page.locator("#experiments li[data-experiment] .count").all_inner_texts()))
    assert counts == {"alpha": "3", "beta": "1", "gamma": "1"}  # a list with run counts, not a text box
    page.click("#experiments li[data-experiment=alpha] a")
    page.wait_for_url("**/?*experiment=alpha*")
    assert sorted(table_names(page)) == ["baseline", "faster", "links"]
    assert page.locator("#experiments li.current").get_attribute("data-experiment") == "alpha"

    page.fill("input[name=param] >> nth=-1", "lr=0.2")
    page.click("button:has-text('Filter')")
    page.wait_for_url("**param=lr%3D0.2*")
    assert table_names(page) == ["faster"]


def test_a_click_opens_the_run_page_with_parameters_log_and_chart(tab, ui_server, ui_store, screenshots):
    page = tab.page
    page.goto(ui_server.url + "/")
    page.click("a.run-link:text-is('faster')")
    page.wait_for_url(f"**/runs/{ui_store.runs['faster']}")
    assert page.inner_text("tr[data-parameter=lr] td.value") == "0.2"
    assert "training with lr=0.2" in page.inner_text("#log")
    chart = page.locator("svg.chart[data-metric=loss]")
    assert chart.is_visible()
    assert chart.locator("polyline").count() == 1 and chart.locator("circle").count() == 5
    page.screenshot(path=str(screenshots / "ui-run.png"), full_page=True)


def test_compare_page_shows_the_parameter_difference(tab, ui_server, ui_store, screenshots):
    page = tab.page
    page.goto(ui_server.url + "/")
    for name in ("baseline", "faster", "xss-probe"):
        page.check(f"tr[data-run-id='{ui_store.runs[name]}'] input[type=checkbox]")
    page.click("#compare-button")
    page.wait_for_url("**/compare?run=*")
    # The runs in table order (newest first); the first one is what the others are compared with.
    cells = page.locator("tr[data-section=parameters][data-name=lr] td.value")
    assert cells.all_inner_texts() == ["0.3", "0.2", "0.1"]
    assert [cells.nth(i).get_attribute("class") for i in range(3)] == ["value", "value differs", "value differs"]
    assert page.locator("tr[data-section=parameters][data-name=note] td.value").first.inner_text() == XSS_NOTE
    assert page.locator("svg.chart[data-metric=loss] polyline").count() == 3
    page.screenshot(path=str(screenshots / "ui-compare.png"), full_page=True)


def test_a_script_tag_in_a_parameter_is_shown_as_text(tab, ui_server, ui_store):
    page = tab.page
    page.goto(f"{ui_server.url}/runs/{ui_store.runs['xss-probe']}")
    value = page.locator("tr[data-parameter=note] td.value")
    assert value.inner_text() == XSS_NOTE and value.is_visible()
    scripts = page.locator("script")  # the app's own files only
    assert [scripts.nth(i).get_attribute("src") for i in range(scripts.count())] == ["/static/run.js", "/static/ui.js"]
    assert XSS_NOTE in page.inner_text("#log")
    page.goto(ui_server.url + "/?experiment=beta")
    assert page.locator("#runs td.param a").filter(has_text=XSS_NOTE).is_visible()


def test_the_log_of_a_running_run_is_followed_live(tab, ui_store, tmp_path):
    """A run of its own (in a store of its own) that waits for files: its page shows the output as
    it is written, without reloading, then the run's final status."""
    with waiting_run(ui_store, tmp_path) as run:
        page = tab.page
        page.goto(f"{run.server.url}/runs/{run.run_id}")
        expect(page.locator("#log")).to_contain_text("waiting for release")
        assert page.inner_text("#run-status") == "RUNNING"
        page.evaluate("window.sameDocument = true")
        (run.project / "release").write_text("")
        expect(page.locator("#log")).to_contain_text("released after the wait")
        assert page.evaluate("window.sameDocument === true"), "the page reloaded instead of appending"
        (run.project / "finish").write_text("")
        expect(page.locator("#run-status")).to_have_text("FINISHED")
        assert run.process.wait(timeout=30) == 0


@pytest.mark.pypi
def test_the_examples_mlflow_curve_and_model_are_shown(tab, mlflow_example, tmp_path, screenshots):
    """The README's example logs a learning curve and a model with MLflow: its run page charts the
    curve and shows the model (flavors, signature, files that download)."""
    root = mlflow_example.work / ".proj"
    server = UiServer(UiStore(root, mlflow_example.work, {**mlflow_example.env, "PROJ_TRACKING_URI": str(root)}),
                      tmp_path / "proj-ui.log")
    try:
        page = tab.page
        page.goto(f"{server.url}/runs/{mlflow_example.run_id}")
        chart = page.locator("svg.chart[data-metric=curve_rmse]")
        assert chart.is_visible() and chart.locator("circle").count() == 5
        assert page.inner_text("tr[data-mlflow-parameter=alpha] td.value") == "0.001"
        model = page.locator("#models [data-model=model]")
        assert model.is_visible() and "sklearn" in model.locator(".flavors").inner_text()
        inputs = model.locator("table.signature tr[data-part=inputs] td")
        assert inputs.all_inner_texts()[:2] == ["age", "double"]
        link = model.locator("a.chip", has_text="MLmodel").get_attribute("href")
        downloaded = page.request.get(server.url + link)
        assert downloaded.ok and b"flavors:" in downloaded.body()
        page.screenshot(path=str(screenshots / "ui-mlflow.png"), full_page=True)
    finally:
        assert server.stop() == 0
