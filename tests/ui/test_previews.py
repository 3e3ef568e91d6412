"""Artifact previews through Starlette's TestClient, on a real run that wrote one artifact of each
kind: what each shows, that nothing a run wrote is rendered as markup, that images are sent only
when they are images, and that previews read no further than their limit and no link."""

from __future__ import annotations

import os

import pytest
from starlette.testclient import TestClient

from runner.ui.app import create_app
from runner.ui.previews import PREVIEW_BYTES

LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def client(sweep_store) -> TestClient:
    with TestClient(create_app(str(sweep_store.root)), base_url=LOCAL) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def run_id(sweep_store) -> str:
    return sweep_store.runs["previews"]


def shown(client, run_id: str, path: str) -> str:
    answer = client.get(f"/runs/{run_id}/preview/{path}")
    assert answer.status_code == 200, answer.text
    return answer.text


@pytest.mark.parametrize("path, kind, expected", [
    ("notes.txt", "text", "first line\n&lt;b&gt;not bold&lt;/b&gt;"),
    ("config.json", "json", '{\n  &#34;layers&#34;: [\n    64,\n    32\n  ],'),
    ("params.yaml", "yaml", "schedule:\n  warmup: 100"),
    ("table.csv", "csv", '<th>epoch</th><th>loss</th><th>note</th>'),
    ("curve.png", "image", '<img class="artifact-image" src="/runs/{run}/image/curve.png"'),
    ("model/MLmodel", "model", '<span class="chip">python_function</span> <span class="chip">sklearn</span>'),
    ("empty.txt", "empty", "This file is empty."),
    ("blob.bin", "binary", "A binary file"),
    ("plot.svg", "text", "&lt;script&gt;alert(6)&lt;/script&gt;"),
    ("broken.json", "text", "Not valid JSON"),
])
def test_each_kind_of_artifact_is_previewed(client, run_id, path, kind, expected):
    html = shown(client, run_id, path)
    assert f'<section id="preview" data-kind="{kind}">' in html
    assert expected.replace("{run}", run_id) in html
    assert "<script>" not in html.replace('<script src="/static/', "")
    assert f'href="/runs/{run_id}/artifacts/{path}" download' in html


def test_a_csv_is_a_table_with_numbers_aligned(client, run_id):
    html = shown(client, run_id, "table.csv")
    assert '<td class="number">0.25</td><td>done</td>' in html
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html and "3 rows shown." in html


def test_a_model_shows_its_signature_and_its_files(client, run_id):
    html = shown(client, run_id, "model/MLmodel")
    assert '<tr data-part="inputs"><th>inputs</th><td>age</td><td>double</td></tr>' in html
    assert '<tr data-part="outputs"><th>outputs</th><td>-</td><td>tensor float64 (-1)</td></tr>' in html
    for name in ("MLmodel", "model.pkl", "requirements.txt"):
        assert f'href="/runs/{run_id}/artifacts/model/{name}" download>{name}</a>' in html
    assert "MLflow 2.22.0" in html


def test_images_are_sent_inline_only_when_their_bytes_say_so(client, run_id):
    image = client.get(f"/runs/{run_id}/image/curve.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"].startswith('inline; filename="curve.png"')
    assert image.content.startswith(b"\x89PNG") and "default-src 'none'" in image.headers["content-security-policy"]
    for path in ("plot.svg", "notes.txt", "blob.bin"):
        refused = client.get(f"/runs/{run_id}/image/{path}")
        assert refused.status_code == 415 and "download it instead" in refused.text


def test_the_run_page_links_every_artifact_to_its_preview(client, run_id):
    html = client.get(f"/runs/{run_id}").text
    for path in ("notes.txt", "table.csv", "model/MLmodel", "curve.png"):
        assert f'<a class="preview" href="/runs/{run_id}/preview/{path}">{path}</a>' in html
    assert "<img" not in html  # images are shown on their preview page only


def test_a_large_file_is_previewed_from_its_beginning_only(sweep_store, client, run_id):
    outputs = sweep_store.root / "runs" / run_id / "outputs"
    big = outputs / "big.log"
    big.write_bytes(b"x" * (PREVIEW_BYTES - 1) + b"\nTHE END\n")
    try:
        html = shown(client, run_id, "big.log")
        assert "only the first 512.0 KiB are shown" in html and "THE END" not in html
    finally:
        big.unlink()


@pytest.mark.parametrize("path, status", [("missing.txt", 404), ("model", 404), ("..%2F..%2Fproj.db", 400),
                                          ("link.txt", 400)])
def test_previews_open_files_the_way_downloads_do(sweep_store, client, run_id, path, status):
    link = sweep_store.root / "runs" / run_id / "outputs" / "link.txt"
    os.symlink("/etc/passwd", link)
    try:
        answer = client.get(f"/runs/{run_id}/preview/{path}")
        assert answer.status_code == status and "root:" not in answer.text
        assert client.get(f"/runs/{run_id}/image/{path}").status_code == status
    finally:
        link.unlink()
