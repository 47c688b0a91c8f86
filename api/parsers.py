"""The API's JSON parser: DRF's, refusing what would otherwise end as a 500 further in (400 instead).

- Nesting deeper than MAX_JSON_DEPTH: no request of this API nests more than a
  few levels, and Python's parser raises RecursionError (not a parse error)
  somewhere near a thousand.
- NUL characters and unpaired surrogates ("\\ud800") in any string, key or value:
  PostgreSQL refuses NUL in text, and a lone surrogate cannot be encoded as UTF-8,
  not by the database driver and not by the renderer echoing it in an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 32
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as e:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.") from e
        check_json(data)
        return data


def check_json(data: Any) -> None:
    """ParseError for nesting past MAX_JSON_DEPTH or a string no store can keep; walked without recursion."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
            continue
        if not isinstance(value, Mapping | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        items = [*value.keys(), *value.values()] if isinstance(value, Mapping) else value
        pending.extend((item, depth + 1) for item in items)


def _check_text(text: str) -> None:
    if _UNSTORABLE.search(text):
        raise ParseError("JSON parse error - strings may not contain NUL characters or unpaired surrogates.")
