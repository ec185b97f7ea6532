"""The indexes of the Users API filters, built without locking the users table against
writes (CREATE INDEX CONCURRENTLY), so a server with many users keeps answering while this
runs. A concurrent build cannot run inside a transaction, hence `atomic = False`."""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

UNIQUE = {
    "external_id": "application_id int8_ops, external_id text_pattern_ops",
    "facebook_id": "application_id int8_ops, facebook_id text_pattern_ops",
    "twitter_id": "application_id int8_ops, twitter_id text_pattern_ops",
    "external_user_id": "application_id, external_user_id",
}


def unique_concurrently(name: str, opclasses: list[str]) -> migrations.SeparateDatabaseAndState:
    """A conditional UniqueConstraint is a unique partial index in PostgreSQL: build that
    index concurrently, and record the constraint in Django's state."""
    index = f"apiuser_unique_{name}"
    return migrations.SeparateDatabaseAndState(
        database_operations=[
            migrations.RunSQL(
                f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {index} ON accounts_apiuser "
                f"({UNIQUE[name]}) WHERE {name} IS NOT NULL",
                reverse_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {index}",
            )
        ],
        state_operations=[
            migrations.AddConstraint(
                model_name="apiuser",
                constraint=models.UniqueConstraint(
                    condition=models.Q((f"{name}__isnull", False)),
                    fields=("application", name),
                    name=index,
                    **({"opclasses": opclasses} if opclasses else {}),
                ),
            )
        ],
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0002_user_profile_fields"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="apiuser",
            index=models.Index(
                models.F("application"),
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("login"), name="text_pattern_ops"
                ),
                name="apiuser_login_upper",
            ),
        ),
        AddIndexConcurrently(
            model_name="apiuser",
            index=models.Index(
                models.F("application"),
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("email"), name="text_pattern_ops"
                ),
                name="apiuser_email_upper",
            ),
        ),
        AddIndexConcurrently(
            model_name="apiuser",
            index=models.Index(
                models.F("application"),
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("full_name"), name="text_pattern_ops"
                ),
                name="apiuser_full_name_upper",
            ),
        ),
        AddIndexConcurrently(
            model_name="apiuser",
            index=models.Index(
                models.F("application"),
                django.contrib.postgres.indexes.OpClass("phone", name="text_pattern_ops"),
                name="apiuser_phone",
            ),
        ),
        AddIndexConcurrently(
            model_name="apiuser",
            index=django.contrib.postgres.indexes.GinIndex(fields=["tags"], name="apiuser_tags"),
        ),
        AddIndexConcurrently(
            model_name="apiuser",
            index=models.Index(
                fields=["application", "last_request_at"], name="apiuser_last_request"
            ),
        ),
        unique_concurrently("external_id", ["int8_ops", "text_pattern_ops"]),
        unique_concurrently("facebook_id", ["int8_ops", "text_pattern_ops"]),
        unique_concurrently("twitter_id", ["int8_ops", "text_pattern_ops"]),
        unique_concurrently("external_user_id", []),
    ]
