"""A griffe extension for the API reference: read ``Example:`` sections as doctest examples.

minibp's docstrings head their doctests ``Example:``. Griffe's Google parser
turns that heading into a note, whose ``>>>`` lines Markdown would show as
nested quotes; ``Examples:`` makes them a code block with their output.
"""

from __future__ import annotations

import re

import griffe

_HEADING = re.compile(r"^(\s*)Example:\s*$", re.M)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` headings to ``Examples:`` in every docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _HEADING.sub(r"\1Examples:", obj.docstring.value)
