"""The table of the ``throttle`` cache alias (Django's DatabaseCache) when there is no Redis.

Made here rather than by `manage.py createcachetable` so that every way the schema
is built (`make run`, the release phase, the tests) has it. The name is
project.cache.THROTTLE_TABLE, written out because adapters may not import project.
"""

from io import StringIO
from typing import Any

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations

TABLE = "experthub_throttle_cache"


def create_table(apps: Any, schema_editor: Any) -> None:
    command = CreateCacheTable(stdout=StringIO())
    command.verbosity = 0  # set by handle(), which this bypasses to name the table whatever CACHES says
    command.create_table(schema_editor.connection.alias, TABLE, dry_run=False)


def drop_table(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [
        ("orm", "0008_sent_email_outbox"),
    ]

    operations = [migrations.RunPython(create_table, drop_table)]
