"""The capture's meta.yaml files are written without PyYAML (runner/capture/location.py): whatever
the names in them, every YAML reader MLflow may use reads back exactly what proj wrote."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.capture.location import yaml_text

# Any text a name can hold: every code point but lone surrogates (which no UTF-8 file can hold).
NAMES = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=400, deadline=None)
@given(name=NAMES, user=NAMES, when=st.integers(min_value=0, max_value=2**63))
def test_meta_yaml_reads_back_as_written(name: str, user: str, when: int) -> None:
    data = {"name": name, "user_id": user, "start_time": when, "end_time": None, "tags": [],
            "run_name": "yes", "source_version": "1e5", "lifecycle_stage": "null", "artifact_uri": "file:///a b#c"}
    text = yaml_text(data)
    assert yaml.safe_load(text) == data
    assert yaml.load(text, Loader=yaml.CSafeLoader) == data  # libyaml, as MLflow uses when it is built
    assert text.encode("utf-8").decode("utf-8") == text


def test_meta_yaml_is_one_sorted_line_per_key() -> None:
    text = yaml_text({"b": 'say "hi"\n', "a": 1, "c": None, "d": []})
    assert text == 'a: 1\nb: "say \\"hi\\"\\x0a"\nc: null\nd: []\n'
