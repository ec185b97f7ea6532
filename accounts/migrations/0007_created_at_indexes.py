"""Indexes for created_at filters and sorts of the users search, built without blocking
writes (CREATE INDEX CONCURRENTLY cannot run in a transaction, hence `atomic = False`)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0006_user_tag_created_at"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="usertag",
            index=models.Index(
                fields=["application_id", "tag", "created_at"], name="usertag_created_at"
            ),
        ),
        AddIndexConcurrently(
            model_name="apiuser",
            index=models.Index(fields=["application", "created_at"], name="apiuser_created_at"),
        ),
    ]
