"""Uploads: one row per presigned upload form, so each is confirmed at most once."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orm", "0011_user_email_key"),
    ]

    operations = [
        migrations.CreateModel(
            name="UploadRow",
            fields=[
                ("id", models.UUIDField(primary_key=True, serialize=False)),
                ("owner_id", models.UUIDField(db_index=True)),
                ("staging_key", models.CharField(max_length=512)),
                ("final_key", models.CharField(max_length=512)),
                ("content_type", models.CharField(max_length=100)),
                ("size", models.PositiveBigIntegerField()),
                ("created_at", models.DateTimeField()),
                ("expires_at", models.DateTimeField(db_index=True)),
                ("used_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "upload",
                "db_table": "experthub_upload",
            },
        ),
    ]
