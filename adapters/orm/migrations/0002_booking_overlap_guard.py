"""The database's own guard against two overlapping accepted bookings of one expert.

The application checks for an overlap before accepting; this guard is the
backstop that makes two concurrent accepts unable to both win, whatever the
application does. On SQLite: triggers that abort the write with the message
'booking_overlap' (the repository maps it to BookingOverlap).

PostgreSQL gets an exclusion constraint (btree_gist, tstzrange overlap where
status = 'accepted') in a later migration; its name must contain
'booking_overlap' so the repository recognises it. Other vendors: no-op here.

Beware: on SQLite, Django applies many AlterField/RemoveField operations by
rebuilding the table, which drops its triggers. A later migration that
rebuilds experthub_booking must run create_triggers again (the test
tests/contract/test_booking_overlap_database.py checks they exist).
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# BEFORE triggers see NEW before it is written; the row being updated is
# excluded by id so a booking never overlaps itself. Touching intervals
# (one ends exactly when the next starts) do not overlap.
_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS {name}
BEFORE {event} ON experthub_booking
FOR EACH ROW WHEN NEW.status = 'accepted'
BEGIN
    SELECT RAISE(ABORT, 'booking_overlap')
    WHERE EXISTS (
        SELECT 1 FROM experthub_booking AS other
        WHERE other.expert_id = NEW.expert_id
          AND other.status = 'accepted'
          AND other.id != NEW.id
          AND other.starts_at < NEW.ends_at
          AND other.ends_at > NEW.starts_at
    );
END
"""

TRIGGERS = {
    "experthub_booking_overlap_insert": "INSERT",
    "experthub_booking_overlap_update": "UPDATE",
}


def create_triggers(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, event in TRIGGERS.items():
        schema_editor.execute(_TRIGGER.format(name=name, event=event))


def drop_triggers(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for name in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("orm", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
