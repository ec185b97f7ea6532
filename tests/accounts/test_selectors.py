"""accounts.selectors: the session statement answers what the ORM answers."""

from django.db import connection

from accounts.models import ApiSession, hash_token
from accounts.selectors import session_by_token_hash
from classes.models import SchemaVersion
from tests.conftest import make_user, token_for


def fields(instance, skip=()) -> dict:
    return {
        f.attname: getattr(instance, f.attname)
        for f in type(instance)._meta.concrete_fields
        if f.name not in skip
    }


def test_a_user_session_is_the_orm_session_without_the_password(application):
    user = make_user(application, "dana", tags=["officers", "doctors"])
    token = token_for(application, user)
    session, version = session_by_token_hash(hash_token(token))
    expected = ApiSession.objects.select_related("application", "user").get(
        token_hash=hash_token(token)
    )
    assert fields(session, {"token_hash"}) == fields(expected, {"token_hash"})
    assert fields(session.application, {"auth_secret"}) == fields(
        expected.application, {"auth_secret"}
    )
    assert fields(session.user, {"password"}) == fields(expected.user, {"password"})
    assert session.user.tags == ["officers", "doctors"]
    assert version == SchemaVersion.objects.get().version
    # what was left out loads when asked for, like defer()
    assert "password" in session.user.get_deferred_fields()
    assert session.user.check_password("correct-horse-battery")
    assert session.application.auth_secret == expected.application.auth_secret


def test_an_application_session_has_no_user(application):
    session, _ = session_by_token_hash(hash_token(token_for(application)))
    assert session.user is None and session.user_id is None
    assert session.application.pk == application.pk


def test_an_unknown_token_is_none_and_a_missing_version_reads_zero(application):
    assert session_by_token_hash(hash_token("nope")) is None
    token = token_for(application)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM classes_schemaversion")
    assert session_by_token_hash(hash_token(token))[1] == 0
