"""Several one-operation views at one URL (GET /experts/ searches, POST /experts/ creates).

Each operation keeps its own APIView class (permissions, throttles, nested
serializers); ``route`` picks the class by HTTP method. A method no operation
serves is answered by the router itself: 405 with the right ``Allow`` header.
The router class carries the operations' handlers only so that the OpenAPI
generator, which inspects one class per URL, documents every operation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, cast

from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.views import APIView

View = Callable[..., HttpResponseBase]


class MethodRouter(APIView):
    operations: ClassVar[Mapping[str, type[APIView]]] = {}
    # Reached only for methods no operation serves, and OPTIONS: nothing to protect.
    permission_classes = [AllowAny]

    @classmethod
    def as_view(cls, **initkwargs: Any) -> View:
        fallback = super().as_view(**initkwargs)
        handlers = {method: operation.as_view() for method, operation in cls.operations.items()}
        if "get" in handlers:
            handlers.setdefault("head", handlers["get"])  # as Django's View answers HEAD with GET

        def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            handler = handlers.get((request.method or "").lower(), fallback)
            return handler(request, *args, **kwargs)

        routed = csrf_exempt(view)  # each operation's view applies DRF's own CSRF rules
        routed.cls = cls
        routed.initkwargs = initkwargs
        return routed

    def get_authenticators(self) -> list[BaseAuthentication]:
        operation = self._operation()
        return operation.get_authenticators() if operation else super().get_authenticators()

    def get_permissions(self) -> list[BasePermission]:
        operation = self._operation()
        return operation.get_permissions() if operation else super().get_permissions()

    def _operation(self) -> APIView | None:
        # The schema generator asks per method, with a mock request.
        request = getattr(self, "request", None)
        operation = self.operations.get(request.method.lower()) if request is not None else None
        return operation() if operation else None


def route(**operations: type[APIView]) -> View:
    """A view serving ``operations`` (``get=SearchApi, post=CreateApi``) at one URL."""
    handlers = {method: getattr(operation, method) for method, operation in operations.items()}
    name = "".join(operation.__name__ for operation in operations.values()) + "Router"
    attrs = {"operations": operations, **handlers, "__doc__": _doc(operations)}
    router = cast(type[MethodRouter], type(name, (MethodRouter,), attrs))
    return router.as_view()


def _doc(operations: Mapping[str, type[APIView]]) -> str:
    return " ".join(operation.__doc__ or "" for operation in operations.values()).strip()
