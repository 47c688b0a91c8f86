"""The project's URLs plus /_test/request/: what Django made of the request nginx passed on."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from project import urls


def request_seen(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "is_secure": request.is_secure(),
            "scheme": request.scheme,
            "host": request.get_host(),
            "request_id": request.headers.get("X-Request-ID"),
            "x_forwarded_for": request.headers.get("X-Forwarded-For"),
            "remote_addr": request.META.get("REMOTE_ADDR"),
            "absolute_uri": request.build_absolute_uri(),
        }
    )


urlpatterns = [path("_test/request/", request_seen), *urls.urlpatterns]
handler400, handler403 = urls.handler400, urls.handler403
handler404, handler500 = urls.handler404, urls.handler500
