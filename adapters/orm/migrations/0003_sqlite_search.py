"""The SQLite FTS5 search index (adapters/local/search.py), created only on SQLite.

On another database this migration does nothing: that deployment uses
another search adapter (project/checks.py refuses SEARCH_BACKEND=sqlite there).
"""

from django.db import migrations

# search_expert holds the filterable, sortable fields; ``id`` is an INTEGER
# PRIMARY KEY so it aliases the rowid, which stays stable across VACUUM and is
# the key of the FTS5 row holding the analysed text of the same expert.
CREATE = [
    """
    CREATE TABLE search_expert (
        id INTEGER PRIMARY KEY,
        expert_id TEXT NOT NULL UNIQUE,
        headline TEXT NOT NULL,
        bio TEXT NOT NULL,
        skills TEXT NOT NULL,
        languages TEXT NOT NULL,
        rate_amount INTEGER NOT NULL,
        currency TEXT NOT NULL,
        rating_average REAL,
        rating_count INTEGER NOT NULL,
        published_at TEXT
    )
    """,
    # The adapter writes text already analysed by search.text (words separated
    # by spaces); the categories make FTS5 split exactly on those spaces.
    """
    CREATE VIRTUAL TABLE search_expert_fts USING fts5(
        headline, skills, bio,
        tokenize = "unicode61 remove_diacritics 2 categories 'L* N* Co M*'",
        prefix = '2 3'
    )
    """,
]
DROP = ["DROP TABLE IF EXISTS search_expert_fts", "DROP TABLE IF EXISTS search_expert"]


def create_search_tables(apps, schema_editor):
    _run_on_sqlite(schema_editor, CREATE)


def drop_search_tables(apps, schema_editor):
    _run_on_sqlite(schema_editor, DROP)


def _run_on_sqlite(schema_editor, statements):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("orm", "0002_booking_overlap_guard")]

    operations = [migrations.RunPython(create_search_tables, drop_search_tables)]
