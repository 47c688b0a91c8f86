"""The durable sent-email record (mail idempotency) and the outbox of events the broker refused."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orm", "0007_report_runs_search_counts"),
    ]

    operations = [
        migrations.CreateModel(
            name="OutboxEvent",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("kind", models.CharField(max_length=100)),
                ("ids", models.JSONField()),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "verbose_name": "outbox event",
                "db_table": "experthub_outbox_event",
            },
        ),
        migrations.CreateModel(
            name="SentEmail",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key_hash", models.CharField(max_length=64, unique=True)),
                ("status", models.CharField(choices=[("sending", "Sending"), ("sent", "Sent")], max_length=7)),
                ("recipient", models.CharField(max_length=254)),
                ("subject", models.CharField(max_length=255)),
                ("claimed_at", models.DateTimeField()),
                ("claimed_by", models.CharField(blank=True, max_length=128)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "sent email",
                "db_table": "experthub_sent_email",
            },
        ),
    ]
