"""The Jinja2 environment of the server's HTML: the report pages and the invitation slips.

Autoescaping is on for every template: every value a page shows (a comment, a manifest
label, a round id) is escaped where the template inserts it, and no Python code builds
markup. The templates are ``server/templates/`` (installed as package data).
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import markupsafe

__all__ = ["TEMPLATES_DIR", "make_environment", "spaceless"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


_BETWEEN_TAGS = re.compile(r">\s*\n\s*<")


def spaceless(value: str) -> markupsafe.Markup:
    """``{% filter spaceless %}``: the line breaks (and indentation) between tags removed.

    A table row is written over several lines of a template but is one line of the page, as
    a reader of the page's source (or a line-based ``grep``) expects.
    """
    if not isinstance(value, markupsafe.Markup):
        value = markupsafe.escape(value)
    # escaped already: removing white space between two tags leaves it escaped
    return markupsafe.Markup(_BETWEEN_TAGS.sub("><", value))  # noqa: S704


def make_environment(**globals: object) -> jinja2.Environment:
    """An environment over the server's templates, with these names in every template.

    Each user (the report pages, the slips) makes one and keeps it: the environment compiles
    each template once and caches it.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the tests, never prints ""
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["spaceless"] = spaceless
    env.globals.update(globals)
    return env
