"""`manage.py report_send`: deliver the daily ops report now, in this process.

    manage.py report_send                          # yesterday's report, unless already sent
    manage.py report_send --date 2026-11-21        # that date's report, unless already sent
    manage.py report_send --date 2026-11-21 --resend   # send that date again, on purpose

The same use case beat's task runs (api.tasks.report_daily), so the report, its
archive in the blob store and its ReportRun record are the same whichever way it
was triggered. "Yesterday" is in OPS_REPORT_TIME_ZONE.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from dependency_injector.wiring import Provider, inject
from django.core.management.base import BaseCommand, CommandError, CommandParser

from domain.errors import DomainError, PortError
from domain.reports import parse_report_day


class Command(BaseCommand):
    help = "Send the daily ops report of a date (default: yesterday in OPS_REPORT_TIME_ZONE); --resend sends again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="The report's local date, YYYY-MM-DD (default: yesterday).")
        parser.add_argument("--resend", action="store_true", help="Send again even if the date was already sent.")

    @inject
    def handle(
        self,
        *args: Any,
        report_send: Callable[..., Any] = Provider["report_send"],
        report_yesterday: Callable[[], date] = Provider["report_yesterday"],
        **options: Any,
    ) -> None:
        try:
            day = parse_report_day(options["date"]) if options["date"] else report_yesterday()
            run = report_send(day=day, resend=options["resend"])
        except PortError as e:
            raise CommandError(f"The report could not be sent now: {e.message} ({e.__cause__}). Try again.") from e
        except DomainError as e:
            raise CommandError(e.message) from e
        if run is None:
            self.stdout.write(f"The report of {day} was already sent; add --resend to send it again.")
            return
        to = ", ".join(run.recipients) or "nobody (OPS_REPORT_EMAILS is empty)"
        self.stdout.write(self.style.SUCCESS(f"Sent the report of {day} (send {run.sends}) to {to}."))
        self.stdout.write(f"Archived: {run.html_key} and {run.csv_key} in the blob store.")
