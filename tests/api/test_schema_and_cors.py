"""The OpenAPI schema (generated without warnings), Swagger UI, the browsable API, and CORS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from domain.experts import ExpertProfile
from tests.api.conftest import API


@pytest.fixture
def schema(anon: APIClient) -> dict[str, Any]:
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_generates_without_warnings(tmp_path: Path) -> None:
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))

    assert yaml.safe_load(target.read_text())["info"]["title"] == "ExpertHub API"


def test_every_operation_is_documented(schema: dict[str, Any]) -> None:
    operations = {
        (method.upper(), path) for path, item in schema["paths"].items() for method in item if path.startswith(API)
    }

    assert len(operations) == 27  # 24 + GET /version/ + GET /reports/ and /reports/<date>/
    assert ("GET", f"{API}/experts/") in operations
    assert ("POST", f"{API}/experts/") in operations
    assert ("PATCH", f"{API}/experts/{{expert_id}}/") in operations
    assert ("POST", f"{API}/bookings/{{booking_id}}/review/") in operations


def test_operation_ids_are_the_use_case_names(schema: dict[str, Any]) -> None:
    ids = {op["operationId"] for item in schema["paths"].values() for op in item.values()}

    assert {"expert_search", "expert_create", "booking_request", "booking_accept", "review_create"} <= ids


def test_errors_are_documented_in_the_one_shape(schema: dict[str, Any]) -> None:
    error = schema["components"]["schemas"]["Error"]
    create = schema["paths"][f"{API}/bookings/"]["post"]["responses"]

    assert error["properties"]["error"]["$ref"] == "#/components/schemas/ErrorDetail"
    assert set(schema["components"]["schemas"]["ErrorDetail"]["properties"]) == {"code", "message", "fields"}
    for status in ("400", "401", "404", "429"):
        assert create[status]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"


def test_search_parameters_are_documented(schema: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in schema["paths"][f"{API}/experts/"]["get"]["parameters"]}

    assert set(parameters) >= {
        "q",
        "skills",
        "languages",
        "min_rate",
        "max_rate",
        "currency",
        "min_rating",
        "sort",
        "page",
        "page_size",
    }
    assert set(parameters["sort"]["schema"]["enum"]) == {"relevance", "rating", "rate_asc", "rate_desc"}
    assert parameters["page_size"]["schema"]["maximum"] == 100


def test_public_and_protected_operations_are_marked(schema: dict[str, Any]) -> None:
    search = schema["paths"][f"{API}/experts/"]["get"]["security"]
    create = schema["paths"][f"{API}/experts/"]["post"]["security"]

    assert {} in search  # anonymous allowed
    assert {} not in create
    assert {"jwtAuth": []} in create


def test_swagger_ui(anon: APIClient) -> None:
    response = anon.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_the_browsable_api_renders(anon: APIClient, published: ExpertProfile) -> None:
    for path in (f"{API}/experts/", f"{API}/experts/{published.id}/", f"{API}/experts/{published.id}/reviews/"):
        response = anon.get(path, HTTP_ACCEPT="text/html")

        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")


def test_the_browsable_api_renders_errors_too(anon: APIClient) -> None:
    response = anon.get(f"{API}/me/", HTTP_ACCEPT="text/html")

    assert response.status_code == 401
    assert response["Content-Type"].startswith("text/html")


class TestCors:
    @pytest.fixture(autouse=True)
    def _origins(self, settings: Any) -> None:
        settings.CORS_ALLOWED_ORIGINS = ["https://app.experthub.example"]

    def test_an_allowed_origin_is_let_in(self, anon: APIClient) -> None:
        response = anon.get(f"{API}/experts/", HTTP_ORIGIN="https://app.experthub.example")

        assert response["Access-Control-Allow-Origin"] == "https://app.experthub.example"

    def test_another_origin_is_not(self, anon: APIClient) -> None:
        response = anon.get(f"{API}/experts/", HTTP_ORIGIN="https://evil.example")

        assert response.status_code == 200
        assert "Access-Control-Allow-Origin" not in response

    def test_a_preflight_for_an_authenticated_post(self, anon: APIClient) -> None:
        response = anon.options(
            f"{API}/bookings/",
            HTTP_ORIGIN="https://app.experthub.example",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
        )

        assert response.status_code == 200
        assert response["Access-Control-Allow-Origin"] == "https://app.experthub.example"
        assert "authorization" in response["Access-Control-Allow-Headers"]
