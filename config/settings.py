"""One settings module, every value from the environment (see the README's table)."""

import secrets
import sys
import warnings
from pathlib import Path

import dj_database_url

from config import embedded_db
from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
TESTING = "pytest" in sys.modules

DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / ".data"))).resolve()


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in DATA_DIR."""
    key = env_str("SECRET_KEY")
    if key:
        return key
    if TESTING:
        return "test-" + secrets.token_hex(32)
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_FAILURE_VIEW = "config.api.errors.csrf_failure"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Public base URL of this server, used to build upload and download URLs handed to clients.
# Empty: built from the request's own host.
PUBLIC_URL = env_str("PUBLIC_URL", "").rstrip("/")

# Served over HTTPS (PUBLIC_URL says so): secure cookies, HSTS and the redirect to HTTPS are
# on by default, each one adjustable. Behind a proxy that terminates TLS, the proxy must set
# X-Forwarded-Proto (trusted from the proxy's address, see docs/deployment.md).
HTTPS = PUBLIC_URL.startswith("https://")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^health"]  # load balancers probe over plain HTTP
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Asking browsers to preload HSTS is a decision for the owner of the whole domain, not a
# default: SECURE_HSTS_PRELOAD=1 opts in, and check --deploy need not nag about it.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
if env_bool("TRUST_X_FORWARDED_PROTO", HTTPS):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "config.api",
    "accounts",
    "classes",
    "records",
    "blobs",
    "console",
    "events",
    "procrastinate.contrib.django",
    "ops",
    "audit",
]

MIDDLEWARE = [
    "config.lane.LaneMiddleware",
    "ops.middleware.RequestLogMiddleware",
    "config.api.middleware.ChunkedBodyMiddleware",
    "config.api.middleware.JsonSuffixMiddleware",
    "config.api.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "console.middleware.ConsoleActorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# PostgreSQL only: JSONB is the design. With no DATABASE_URL the project starts its own.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
elif TESTING:
    DATABASES = {"default": embedded_db.start_throwaway()}
else:
    DATABASES = {"default": embedded_db.start(DATA_DIR / "pgdata")}
if not TESTING:
    # Keep connections between requests (a new one forks a PostgreSQL backend: ~3 ms a
    # request). Not checked with a `SELECT 1` before each request (a round trip every
    # request pays): a connection the database dropped fails one request with a 500 and is
    # then closed by Django (it closes a connection whose last use raised), so the next
    # request on that worker opens a fresh one.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("CONN_HEALTH_CHECKS", False)
if _actor := env_str("CUBEBASE_AUDIT_ACTOR", ""):
    # The audit trail names a manage.py command as the actor of what it changes (audit/actor.py).
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c cubebase.actor={_actor}".strip()
# A streaming replica of that database for reads that tolerate lag (config/replica.py).
if DATABASE_REPLICA_URL := env_str("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(DATABASE_REPLICA_URL)
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"].get("CONN_MAX_AGE", 0)
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = DATABASES["default"].get(
        "CONN_HEALTH_CHECKS", False
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
# The fixed statements of the hot requests are prepared on the server (config/prepared.py).
# Off for a pooler that cannot keep prepared statements (PgBouncer in transaction mode
# before 1.22): Django's own cursors never prepare, and with psycopg's prepare_threshold
# None (Django's default) nothing is prepared anywhere.
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
for _database in DATABASES.values():
    _options = _database.setdefault("OPTIONS", {})
    _options["prepare_threshold"] = 5 if DATABASE_PREPARED_STATEMENTS else None
DATABASE_ROUTERS = ["config.replica.ReplicaRouter"]
REPLICA_FOR_API_READS = env_bool("REPLICA_FOR_API_READS", False)
# The lean path of the busiest record requests (config/lane.py); 0 sends everything
# through DRF, as a way to compare or to rule it out.
LANE = env_bool("LANE", True)
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...)")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Django's list unless set (comma-separated dotted paths; the first hashes new passwords).
if _hashers := env_list("PASSWORD_HASHERS", []):
    PASSWORD_HASHERS = _hashers
if TESTING:
    # Hashing with the production hasher costs ~0.3 s a user; tests make hundreds.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
# whitenoise serves the console's and the API docs' assets straight from the apps' static
# folders (no collectstatic step), with caching headers and compressed variants.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# ...so STATIC_ROOT, filled only by an optional collectstatic, may well not exist.
warnings.filterwarnings("ignore", message="No directory at: ")

# Files: the filesystem by default, S3 (or any S3-compatible service) when S3_BUCKET is set.
# Tests never write into DATA_DIR: their files go to a folder removed at exit.
if TESTING and not env_str("MEDIA_ROOT"):
    import atexit
    import shutil
    import tempfile

    MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="cubebase-media-"))
    atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
else:
    MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
S3_BUCKET = env_str("S3_BUCKET")
# Base URL of public objects (a CDN or the bucket's public address): public blobs redirect
# there unsigned. Empty: every download is a presigned GET.
S3_PUBLIC_URL = env_str("S3_PUBLIC_URL").rstrip("/")
if S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "region_name": env_str("S3_REGION", "us-east-1") or None,
            "endpoint_url": env_str("S3_ENDPOINT_URL") or None,
            "access_key": env_str("S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("S3_SECRET_ACCESS_KEY") or None,
            "custom_domain": env_str("S3_PUBLIC_URL")
            .removeprefix("https://")
            .removeprefix("http://")
            or None,
            "addressing_style": env_str("S3_ADDRESSING_STYLE", "path"),
            "signature_version": "s3v4",
            "file_overwrite": True,
            "default_acl": None,
            "querystring_expire": 3600,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Uploads go to temporary files past 2.5 MB; nothing holds a whole file in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_BODY_BYTES", 16 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

SESSION_TTL_SECONDS = env_int("SESSION_TTL_SECONDS", 2 * 3600)

# Failed logins (accounts/throttle.py): this many failures within the window block further
# attempts of that login (per application), or from that client address, for LOGIN_BLOCK_SECONDS.
LOGIN_MAX_FAILURES_PER_LOGIN = env_int("LOGIN_MAX_FAILURES_PER_LOGIN", 10)
LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 50)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900)
LOGIN_BLOCK_SECONDS = env_int("LOGIN_BLOCK_SECONDS", 900)

# Users API: a user is online when its last request is at most this many minutes old.
USERS_ONLINE_MINUTES = env_int("USERS_ONLINE_MINUTES", 5)
# A password reset link works this many seconds (and only until the password changes).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 24 * 3600)

# Mail (password reset links). Without EMAIL_HOST, messages are written to the server's
# console instead of being sent; with it, they go out over SMTP.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # implicit TLS (port 465)
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", not EMAIL_USE_SSL)  # STARTTLS
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "cubebase <noreply@localhost>")
SIGNATURE_MAX_AGE_SECONDS = env_int("SIGNATURE_MAX_AGE_SECONDS", 3600)

# Live events and webhooks (docs/events.md).
EVENTS_RETENTION_SECONDS = env_int("EVENTS_RETENTION_SECONDS", 24 * 3600)
EVENTS_PING_SECONDS = env_int("EVENTS_PING_SECONDS", 15)
EVENTS_QUEUE_SIZE = env_int("EVENTS_QUEUE_SIZE", 256)
# How long a server process lets notifications gather before it reads the journal once for
# all of them (docs/events.md): a longer wait costs latency, a shorter one CPU per write.
EVENTS_COALESCE_MS = env_int("EVENTS_COALESCE_MS", 40)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
WEBHOOK_RETRY_SECONDS = env_int("WEBHOOK_RETRY_SECONDS", 25 * 3600)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 10)
# Webhook targets on loopback, private or link-local addresses are refused unless allowed.
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", TESTING)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.CBTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.authentication.HasSession"],
    "DEFAULT_PARSER_CLASSES": [
        "config.api.parsers.JSONBodyParser",
        "config.api.parsers.BracketFormParser",
        "config.api.parsers.BracketMultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["config.api.renderers.FastJSONRenderer"],
    "EXCEPTION_HANDLER": "config.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.ApiAutoSchema",
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "cubebase API",
    "DESCRIPTION": "A self-hosted ConnectyCube backend: sessions, users, Custom Objects (/data) and Storage (/blobs).",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would send the schema to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.complete_error_responses",
    ],
}

# One JSON line per request on standard error (ops/middleware.py), unless REQUEST_LOG=0.
REQUEST_LOG = env_bool("REQUEST_LOG", not TESTING)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"bare": {"format": "%(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "requests": {"class": "logging.StreamHandler", "formatter": "bare"},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
    "loggers": {
        "cubebase.requests": {
            "handlers": ["requests"],
            "level": "INFO" if REQUEST_LOG else "WARNING",
            "propagate": False,
        },
    },
}

# GET /metrics (Prometheus) answers only with "Authorization: Bearer <METRICS_TOKEN>".
METRICS_TOKEN = env_str("METRICS_TOKEN")
