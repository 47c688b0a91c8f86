"""Retention: records that hold personal data or grow with traffic are kept no longer than needed."""

from __future__ import annotations

from datetime import timedelta

from domain.ports import Clock, Mailer, SearchLog, UploadRepository

# Far beyond any retry of an email (minutes) and the broker's redelivery window (an
# hour): a key forgotten after this could only be sent again by an event replayed a
# month late. The records hold recipients and subjects.
SENT_EMAIL_RETENTION = timedelta(days=30)
# The daily report reads yesterday's searches; a resend of an older date within this
# window still shows its top searched skills.
SEARCH_COUNT_RETENTION = timedelta(days=90)
# An upload's record refuses a second confirmation; once its form has expired (and
# its grace passed) the record says no more than its absence does (404).
UPLOAD_RETENTION = timedelta(days=1)


def records_prune(*, mailer: Mailer, search_log: SearchLog, uploads: UploadRepository, clock: Clock) -> dict[str, int]:
    """Forget email delivery records, search counts and upload records past their retention; returns how many went."""
    now = clock.now()
    return {
        "sent_emails": mailer.prune(before=now - SENT_EMAIL_RETENTION),
        "search_counts": search_log.prune(before=now - SEARCH_COUNT_RETENTION),
        "uploads": uploads.prune(before=now - UPLOAD_RETENTION),
    }
