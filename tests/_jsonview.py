"""Typed views of JSON a test reads (a helper, not tests; not ``_json``, the name of the
standard library's C accelerator of :mod:`json`).

The library's ``JSONValue`` is a union, so indexing a parsed or built document needs a
narrowing first. A test knows the shape of the documents it builds; :func:`obj` and
:func:`arr` check that shape (an assertion, so a wrong guess fails the test) and give back
the value typed for indexing.
"""

from __future__ import annotations

from typing import Any


def obj(value: object) -> dict[str, Any]:
    """``value``, which must be a JSON object, typed for indexing."""
    assert isinstance(value, dict), f"expected a JSON object, found {type(value).__name__}"
    return value


def arr(value: object) -> list[Any]:
    """``value``, which must be a JSON array, typed for indexing."""
    assert isinstance(value, list), f"expected a JSON array, found {type(value).__name__}"
    return value
