"""The grammar inside MLproject values: parameter types and command placeholders (pure logic)."""

from __future__ import annotations

import pytest

from runner.grammar import parse_typed, placeholders


@pytest.mark.parametrize(
    "type_name, raw, expected",
    [
        ("float", "0.5", 0.5), ("float", "1e-1", 0.1), ("float", 3, 3.0), ("float", "-2", -2.0),
        ("int", "42", 42), ("int", " -7 ", -7), ("int", 5, 5),
        ("bool", "true", True), ("bool", "No", False), ("bool", "1", True), ("bool", "off", False),
        ("bool", True, True),
        ("string", 12, "12"), ("str", "x", "x"), ("custom-type", "y", "y"),
        ("uri", "s3://bucket/key", "s3://bucket/key"), ("uri", "file:///tmp", "file:///tmp"),
    ],
)
def test_values_are_converted_to_their_type(type_name, raw, expected):
    value = parse_typed(type_name, raw)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "type_name, raw",
    [("float", "abc"), ("float", True), ("float", ""), ("int", "1.5"), ("int", 1.5), ("int", "ten"),
     ("int", True), ("bool", "maybe"), ("bool", "2"), ("uri", "/tmp/data"), ("uri", "relative/x")],
)
def test_values_that_do_not_fit_their_type_are_refused(type_name, raw):
    with pytest.raises(ValueError):
        parse_typed(type_name, raw)


def test_placeholders_are_listed_with_their_text():
    found = placeholders("a {x} {{no}} {y!r} {z:>4}")
    assert [(p.text, p.name) for p in found] == [("{x}", "x"), ("{y!r}", "y"), ("{z:>4}", "z")]


def test_unbalanced_braces_raise():
    with pytest.raises(ValueError):
        placeholders("echo {x")
