import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Upper
from django.utils import timezone


def new_auth_key() -> str:
    return secrets.token_urlsafe(24)


def new_auth_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Only this digest is stored, so a database dump holds no live token."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_secret(given, expected: str) -> bool:
    """Constant-time comparison of a client-sent key with ours; any input, even non-ASCII or
    not a string, is just "not the same"."""
    return secrets.compare_digest(str(given or "").encode(), expected.encode())


class Application(models.Model):
    """Everything else (users, sessions, classes, records, blobs) belongs to one application;
    its integer id is the `application_id` clients are configured with."""

    name = models.CharField(max_length=100)
    auth_key = models.CharField(max_length=64, unique=True, default=new_auth_key)
    auth_secret = models.CharField(max_length=64, default=new_auth_secret)
    created_at = models.DateTimeField(auto_now_add=True)
    # Users API settings of the application (console: the application's overview).
    users_api_v1 = models.BooleanField(
        "list users API v1",
        default=False,
        help_text="Answer the deprecated GET /users list and its by_login, by_email, "
        "by_full_name, by_tags and external routes.",
    )
    users_show_contacts = models.BooleanField(
        "show email and phone to other users",
        default=False,
        help_text="Off: a user sees the email and phone of its own user only; others see null.",
    )

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.name} ({self.pk})"

    def regenerate_keys(self) -> None:
        self.auth_key = new_auth_key()
        self.auth_secret = new_auth_secret()
        self.save(update_fields=["auth_key", "auth_secret"])

    def credentials(self) -> dict:
        return {
            "application_id": self.pk,
            "auth_key": self.auth_key,
            "auth_secret": self.auth_secret,
        }


class ApiUser(models.Model):
    """A user of an application (not a console administrator: those are Django's users).
    Tags are the user's groups for `open_for_groups` permissions."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="users")
    login = models.CharField(max_length=100, null=True, blank=True)
    email = models.EmailField(max_length=254, null=True, blank=True)
    full_name = models.CharField(max_length=200, blank=True, default="")
    password = models.CharField(max_length=128)
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    phone = models.CharField(max_length=50, null=True, blank=True)
    website = models.CharField(max_length=255, null=True, blank=True)
    external_user_id = models.BigIntegerField(null=True, blank=True)
    external_id = models.CharField(max_length=255, null=True, blank=True)
    facebook_id = models.CharField(max_length=64, null=True, blank=True)
    twitter_id = models.CharField(max_length=64, null=True, blank=True)
    # The avatar as a blob of the same application (the field `blob_id` of the API).
    blob = models.ForeignKey(
        "blobs.Blob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    avatar = models.CharField(max_length=255, null=True, blank=True)
    custom_data = models.TextField(null=True, blank=True)
    timezone = models.SmallIntegerField(null=True, blank=True, help_text="minutes from UTC")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_request_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "user"
        constraints = [
            models.UniqueConstraint("application", "login", name="apiuser_unique_login"),
            models.UniqueConstraint("application", Lower("email"), name="apiuser_unique_email"),
            # One user per external identity. text_pattern_ops: these indexes also serve
            # the `start_with` filter of GET /users/v2 whatever the database's collation.
            *[
                models.UniqueConstraint(
                    fields=["application", name],
                    name=f"apiuser_unique_{name}",
                    condition=Q(**{f"{name}__isnull": False}),
                    opclasses=["int8_ops", "text_pattern_ops"],
                )
                for name in ("external_id", "facebook_id", "twitter_id")
            ],
            models.UniqueConstraint(
                fields=["application", "external_user_id"],
                name="apiuser_unique_external_user_id",
                condition=Q(external_user_id__isnull=False),
            ),
        ]
        # The filters of GET /users/v2 (accounts/user_query.py): case-insensitive ones
        # compare UPPER(column), as Django's iexact and istartswith do.
        indexes = [
            models.Index(
                F("application"),
                OpClass(Upper("login"), name="text_pattern_ops"),
                name="apiuser_login_upper",
            ),
            models.Index(
                F("application"),
                OpClass(Upper("email"), name="text_pattern_ops"),
                name="apiuser_email_upper",
            ),
            models.Index(
                F("application"),
                OpClass(Upper("full_name"), name="text_pattern_ops"),
                name="apiuser_full_name_upper",
            ),
            models.Index(
                F("application"),
                OpClass("phone", name="text_pattern_ops"),
                name="apiuser_phone",
            ),
            GinIndex(fields=["tags"], name="apiuser_tags"),
            models.Index(fields=["application", "last_request_at"], name="apiuser_last_request"),
            models.Index(fields=["application", "created_at"], name="apiuser_created_at"),
        ]

    def __str__(self):
        return self.login or self.email or f"user {self.pk}"

    def set_password(self, raw: str) -> None:
        self.password = make_password(raw)

    def check_password(self, raw: str) -> bool:
        return check_password(raw, self.password)


class UserTag(models.Model):
    """One row per tag of a user, so the users search counts the users of a tag from an
    index alone (a GIN index on `ApiUser.tags` finds them but must read every matching
    row to count them). Written only by the database triggers of migrations 0005 and 0006 on
    accounts_apiuser, so every write path (API, console, import_users, SQL) keeps it
    exact; Python never writes it."""

    pk = models.CompositePrimaryKey("application_id", "tag", "user_id")
    application_id = models.BigIntegerField()
    tag = models.CharField(max_length=100)
    user_id = models.BigIntegerField()
    created_at = models.DateTimeField()  # the user's, so `created_at` filters count here too

    class Meta:
        verbose_name = "user tag"
        indexes = [
            models.Index(fields=["application_id", "tag", "created_at"], name="usertag_created_at")
        ]

    def __str__(self):
        return f"{self.tag} of user {self.user_id}"


class ApiSession(models.Model):
    """A client session. `updated_at` is the last request: the session ends
    SESSION_TTL_SECONDS after it (sliding expiry)."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="sessions")
    user = models.ForeignKey(
        ApiUser, on_delete=models.CASCADE, null=True, blank=True, related_name="sessions"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    nonce = models.CharField(max_length=64, blank=True, default="")
    ts = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "session"

    def __str__(self):
        return f"session {self.pk}"

    @classmethod
    def open(cls, *, application, user=None, ts=None, nonce="") -> tuple["ApiSession", str]:
        """Create a session and answer it with its token (the only time the token exists)."""
        token = secrets.token_hex(24)
        session = cls.objects.create(
            application=application,
            user=user,
            token_hash=hash_token(token),
            nonce=str(nonce)[:64],
            ts=int(ts) if ts is not None else int(timezone.now().timestamp()),
        )
        return session, token

    def is_expired(self, now=None) -> bool:
        now = now or timezone.now()
        return (now - self.updated_at).total_seconds() > settings.SESSION_TTL_SECONDS


class LoginFailures(models.Model):
    """Recent failed logins under one key (an application's login, a client address, a
    console user name): how many since `window_start`, and until when further attempts
    are refused. Kept in PostgreSQL so every process and node counts together;
    accounts/throttle.py reads and writes it."""

    key = models.CharField(max_length=400, primary_key=True)
    failures = models.IntegerField(default=0)
    window_start = models.DateTimeField()
    blocked_until = models.DateTimeField(null=True)

    class Meta:
        db_table = "accounts_login_failures"

    def __str__(self):
        return f"{self.key}: {self.failures} failures"
