"""PostgreSQL: the full-text search table (adapters/orm/search.py), created only on PostgreSQL.

On another database this migration does nothing, as 0003 does nothing
outside SQLite: each database keeps the search table its adapter reads.
The table is raw (no model): the adapter is its only reader and writer.
"""

from django.db import migrations

# ``document`` holds the words search.text analysed, weighted headline A,
# skills B, bio C; the adapter writes it as a tsvector literal, so no text
# search configuration of the server's is involved. The raw headline and
# bio are not kept: the profile in the repository is the source of truth.
CREATE = [
    """
    CREATE TABLE search_expert_pg (
        expert_id uuid PRIMARY KEY,
        document tsvector NOT NULL,
        skills text[] NOT NULL,
        languages text[] NOT NULL,
        rate_amount bigint NOT NULL,
        currency text NOT NULL,
        rating_average double precision,
        rating_count integer NOT NULL,
        published_at timestamptz
    )
    """,
    # Full-text matching (@@), the skills filter (@>) and the languages filter (&&).
    "CREATE INDEX search_expert_pg_document ON search_expert_pg USING gin (document)",
    "CREATE INDEX search_expert_pg_skills ON search_expert_pg USING gin (skills)",
    "CREATE INDEX search_expert_pg_languages ON search_expert_pg USING gin (languages)",
    # Rate bounds with or without a currency, and min_rating.
    "CREATE INDEX search_expert_pg_currency_rate ON search_expert_pg (currency, rate_amount)",
    "CREATE INDEX search_expert_pg_rate ON search_expert_pg (rate_amount)",
    "CREATE INDEX search_expert_pg_rating ON search_expert_pg (rating_average)",
]
DROP = ["DROP TABLE IF EXISTS search_expert_pg"]


def create_search_table(apps, schema_editor):
    _run_on_postgresql(schema_editor, CREATE)


def drop_search_table(apps, schema_editor):
    _run_on_postgresql(schema_editor, DROP)


def _run_on_postgresql(schema_editor, statements):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("orm", "0004_postgres_booking_exclusion")]

    operations = [migrations.RunPython(create_search_table, drop_search_table)]
