"""Profile view counters (the ORM twin of the Redis adapter): one row per profile and UTC day."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orm", "0005_postgres_search")]

    operations = [
        migrations.CreateModel(
            name="ExpertViewCountRow",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("views", models.PositiveBigIntegerField(default=0)),
                (
                    "expert",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="view_counts",
                        to="orm.expertprofilerow",
                    ),
                ),
            ],
            options={
                "verbose_name": "expert view count",
                "db_table": "experthub_expert_view_count",
                "indexes": [models.Index(fields=["day"], name="expert_view_count_day")],
                "constraints": [
                    models.UniqueConstraint(fields=("expert", "day"), name="expert_view_count_once_per_day")
                ],
            },
        ),
    ]
