"""GET /reports/ and /reports/<date>/: staff list past daily reports and open their archived copies."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from rest_framework.test import APIClient

from project.container import container
from tests.api.conftest import API, Account, assert_error


@pytest.fixture
def sent(settings: Any) -> date:
    """The report of 2029-12-31, sent through the container as beat's task would send it."""
    run = container.report_send(day=date(2029, 12, 31))
    assert run is not None
    return run.day


def download(url: str) -> tuple[bytes, str]:
    """Fetch an archived copy: over HTTP from S3 in the stack run, through the test client locally."""
    parts = urlsplit(url)
    if parts.netloc == "testserver":
        response = APIClient().get(f"{parts.path}?{parts.query}")
        assert response.status_code == 200, response.content
        return b"".join(response.streaming_content), response["Content-Type"]
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.read(), answer.headers["Content-Type"]


def test_staff_list_reports_newest_first(staff: Account, sent: date) -> None:
    container.report_send(day=date(2029, 12, 30))

    response = staff.api.get(f"{API}/reports/")

    assert response.status_code == 200
    body = response.json()
    assert [row["day"] for row in body["results"]] == ["2029-12-31", "2029-12-30"]
    assert body["count"] == 2
    assert body["results"][0]["status"] == "sent"
    assert body["results"][0]["recipients"] == list(container.report_schedule().recipients)


def test_staff_open_a_report_and_download_its_archived_html_and_csv(staff: Account, sent: date) -> None:
    response = staff.api.get(f"{API}/reports/2029-12-31/")

    assert response.status_code == 200
    body = response.json()
    html, html_type = download(body["html_url"])
    assert html_type.startswith("text/html")
    assert b"2029" in html
    assert b"data:image/png;base64," in html  # the archived copy carries its own chart
    table, csv_type = download(body["csv_url"])
    assert csv_type.startswith("text/csv")
    assert list(csv.reader(io.StringIO(table.decode())))


def test_the_email_went_to_every_recipient_with_the_chart_and_the_csv(sent: date) -> None:
    recipients = sorted(container.report_schedule().recipients)

    assert sorted(m.to[0] for m in mail.outbox) == recipients
    message = mail.outbox[0].message()
    parts = {part.get_content_type() for part in message.walk()}
    assert {"text/plain", "text/html", "image/png", "text/csv"} <= parts


def test_others_may_not_read_reports(client_account: Account, expert_account: Account, sent: date) -> None:
    for account in (client_account, expert_account):
        assert_error(account.api.get(f"{API}/reports/"), 403)
        assert_error(account.api.get(f"{API}/reports/2029-12-31/"), 403)
    assert_error(APIClient().get(f"{API}/reports/"), 401)


def test_a_malformed_date_is_a_400_and_an_unknown_one_a_404(staff: Account) -> None:
    assert_error(staff.api.get(f"{API}/reports/yesterday/"), 400, "invalid", "date")
    assert_error(staff.api.get(f"{API}/reports/2029-02-30/"), 400, "invalid", "date")
    assert_error(staff.api.get(f"{API}/reports/2029-12-01/"), 404)
