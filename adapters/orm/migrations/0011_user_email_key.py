"""Every stored email becomes its domain.users.email_key, so one mailbox backs one account.

Rows whose addresses fold to the same key ("Ada@x.com", "ada@x.com", the same in fullwidth letters) are
one mailbox with several accounts. None is deleted or merged: bookings, reviews and
profiles refer to each by id, and which one the person meant is theirs to say. One
keeps the address: an active account before an inactive one, then the oldest signup
(the mailbox's first registration; a later look-alike is the likelier impostor). The
others are deactivated (no login, no refresh) and parked on an address under the
reserved .invalid domain that nothing is ever sent to; each parked account is logged
with its former address, for support to merge or reopen by hand in the admin.
"""

import logging
from collections import defaultdict
from typing import Any

from django.db import migrations, models
from django.db.models.functions import Lower

from domain.users import email_key

logger = logging.getLogger("adapters.orm.migrations")


def parked_email(user_id: Any) -> str:
    return f"duplicate-{user_id.hex}@duplicates.invalid"


def fold_emails(apps: Any, schema_editor: Any) -> None:
    users = apps.get_model("orm", "User").objects.using(schema_editor.connection.alias)
    mailboxes: dict[str, list[Any]] = defaultdict(list)
    for row in users.only("id", "email", "is_active", "date_joined"):
        mailboxes[email_key(row.email)].append(row)
    keepers = []
    for key, rows in mailboxes.items():
        rows.sort(key=lambda row: (not row.is_active, row.date_joined, str(row.id)))
        keepers.append((key, rows[0]))
        for row in rows[1:]:
            logger.warning(
                "Account %s shared the mailbox of %s with %s: parked, deactivated.", row.id, row.email, rows[0].id
            )
            users.filter(id=row.id).update(email=parked_email(row.id), is_active=False)
    # After the parking: a keeper's new address may be the old one of a parked account.
    for key, row in keepers:
        if row.email != key:
            users.filter(id=row.id).update(email=key)


class Migration(migrations.Migration):
    dependencies = [
        ("orm", "0010_outbox_published_at"),
    ]

    operations = [
        migrations.RunPython(fold_emails, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(Lower("email"), name="experthub_user_email_lower_unique"),
        ),
    ]
