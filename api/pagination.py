"""Page-number pagination over the domain's Page: the query parameters in, the envelope out.

    {"count": 42, "page": 2, "page_size": 20, "next": "<url>|null", "previous": "<url>|null", "results": [...]}

The repositories page in the store (the domain's PageRequest), so this module
never sees a queryset: it only reads ``page``/``page_size`` and renders links.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from api.serializers.common import StrictQuerySerializer
from domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_NUMBER, MAX_PAGE_SIZE, Page, PageRequest

T = TypeVar("T")


class PageQuerySerializer(StrictQuerySerializer):
    """The paging query parameters; list views extend it with their filters."""

    page = serializers.IntegerField(
        min_value=1, max_value=MAX_PAGE_NUMBER, default=1, help_text=f"1-based page number, at most {MAX_PAGE_NUMBER}."
    )
    page_size = serializers.IntegerField(
        min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE, help_text=f"At most {MAX_PAGE_SIZE}."
    )


def page_request(data: dict[str, Any]) -> PageRequest:
    """The PageRequest of a validated PageQuerySerializer."""
    return PageRequest(number=data["page"], size=data["page_size"])


def page_envelope(request: Request, *, results: Sequence[Any], total: int, page: PageRequest) -> dict[str, Any]:
    """The envelope around already-rendered ``results``, with absolute next/previous links."""
    url = request.build_absolute_uri()
    has_next = page.offset + len(results) < total
    return {
        "count": total,
        "page": page.number,
        "page_size": page.size,
        "next": _link(url, page, page.number + 1) if has_next else None,
        "previous": _link(url, page, page.number - 1) if page.number > 1 else None,
        "results": list(results),
    }


def render_page(
    request: Request,
    page: Page[T],
    serializer_class: type[serializers.Serializer],
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A domain Page rendered item by item with ``serializer_class``, in the envelope."""
    results = serializer_class(page.items, many=True, context=context or {}).data
    return page_envelope(request, results=results, total=page.total, page=page.request)


def _link(url: str, page: PageRequest, number: int) -> str:
    return replace_query_param(replace_query_param(url, "page", number), "page_size", page.size)


def paginated(
    item: type[serializers.Serializer], name: str, **extra: serializers.Field
) -> type[serializers.Serializer]:
    """A serializer describing the envelope of ``item``s, for the OpenAPI schema only."""
    fields: dict[str, Any] = {
        "count": serializers.IntegerField(help_text="Total matches over all pages."),
        "page": serializers.IntegerField(),
        "page_size": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": item(many=True),
        **extra,
    }
    return type(name, (serializers.Serializer,), {**fields, "Meta": type("Meta", (), {"ref_name": name})})
