"""Profile view counters (the ORM twin of the Redis adapter)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("orm", "0005_postgres_search")]

    operations: list[migrations.operations.base.Operation] = []
