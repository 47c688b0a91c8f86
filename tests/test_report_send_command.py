"""`manage.py report_send`: the one command that sends the daily report now (docs/daily-report.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from adapters.memory.store import FixedClock
from adapters.orm.models import ReportRunRow
from project.container import container

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock() -> Any:
    fixed = FixedClock(datetime(2030, 1, 2, 9, 0, tzinfo=UTC))
    with container.clock.override(fixed):
        yield fixed


def run(*args: str) -> str:
    out = StringIO()
    call_command("report_send", *args, stdout=out)
    return out.getvalue()


def test_without_a_date_it_sends_yesterdays_report(settings: Any) -> None:
    output = run()

    assert "Sent the report of 2030-01-01 (send 1)" in output
    assert [m.to for m in mail.outbox] == [[address] for address in settings.OPS_REPORT_EMAILS]
    assert ReportRunRow.objects.get().day == date(2030, 1, 1)


def test_a_date_already_sent_is_not_sent_again_without_resend() -> None:
    run("--date", "2029-12-24")

    assert "already sent" in run("--date", "2029-12-24")
    assert "(send 2)" in run("--date", "2029-12-24", "--resend")
    assert len(mail.outbox) == 2 * len(container.report_schedule().recipients)


def test_a_malformed_date_is_refused_with_a_clear_message() -> None:
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        run("--date", "24/12/2029")
    assert ReportRunRow.objects.count() == 0
