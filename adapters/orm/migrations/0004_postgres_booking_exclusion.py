"""PostgreSQL: the booking overlap rule as an exclusion constraint (btree_gist).

No two accepted bookings of one expert may overlap, whatever the application
does: two concurrent accepts cannot both commit. The constraint compares
expert_id with = (btree_gist provides the GiST operator class for uuid) and
the half-open range [starts_at, ends_at) with && (so touching bookings do not
overlap, as on SQLite), for accepted rows only.

Its name contains 'booking_overlap', the marker the repository maps to
BookingOverlap (adapters/orm/repositories.py). SQLite has the triggers of
migration 0002 instead; other vendors: no-op.

btree_gist is a trusted extension (PostgreSQL 13+): the database owner may
create it without superuser rights, and managed services (RDS, Cloud SQL,
Heroku, Azure) allow it. Adding the constraint fails if accepted bookings
already overlap; docs/postgresql.md has the query that finds them.
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

CONSTRAINT = "experthub_booking_overlap_excl"

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    f"""
    ALTER TABLE experthub_booking ADD CONSTRAINT {CONSTRAINT}
    EXCLUDE USING gist (expert_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (status = 'accepted')
    """,
]
# The extension stays: dropping it could break whatever else uses it.
DROP = [f"ALTER TABLE experthub_booking DROP CONSTRAINT IF EXISTS {CONSTRAINT}"]


def create_constraint(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _run_on_postgresql(schema_editor, CREATE)


def drop_constraint(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _run_on_postgresql(schema_editor, DROP)


def _run_on_postgresql(schema_editor: BaseDatabaseSchemaEditor, statements: list[str]) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("orm", "0003_sqlite_search")]

    operations = [migrations.RunPython(create_constraint, drop_constraint, elidable=False)]
