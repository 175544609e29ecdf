"""docs/configuration.md documents every configuration key (and no key that does not exist)."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import attrs

from ops.config import Settings
from ops.settings import _field_types, _unwrap_optional

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"


def keys(cls: type, prefix: str) -> set[str]:
    found: set[str] = set()
    for field in attrs.fields(cls):
        tp = _unwrap_optional(_field_types(cls)[field.name])
        path = f"{prefix}{field.name}"
        if attrs.has(tp):
            found |= keys(tp, path + ".")
        elif typing.get_origin(tp) is dict and attrs.has(typing.get_args(tp)[1]):
            found.add(path)
            found |= keys(typing.get_args(tp)[1], path + ".<name>.")
        else:
            found.add(path)
    return found


def test_every_key_is_documented_and_every_documented_key_exists() -> None:
    documented = set(re.findall(r"^\| `([a-z0-9_.<>]+)` \|", DOC.read_text(), re.M))
    expected = keys(Settings, "")
    assert expected - documented == set(), "undocumented keys"
    assert documented - expected == set(), "documented keys that do not exist"
