"""Settings for cronmonitor, read from the environment or a `.env` file beside manage.py.

Every variable is documented in docs/configuration.md and .env.example. The `.env` file
matters most for cron: cron starts jobs with an empty environment, so the checker it runs must
find the deployment's configuration on disk, not in the shell that installed the crontab.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from cronmonitor.env_casts import (
    Bound,
    env,
    env_bool,
    env_crontab,
    env_database,
    env_int,
    env_list,
    env_log_level,
    env_origins,
    env_ping_keys,
    env_positive,
    env_time_zone,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE = Path(os.environ.get("CRONMONITOR_ENV_FILE", BASE_DIR / ".env"))

if ENV_FILE.is_file():
    env.read_env(ENV_FILE)

INSECURE_KEY = "django-insecure-local-development-key-change-me"

# The longest span the app computes with (heartbeats.domain.schedules.MAX_SPAN): durations stay
# within it, so no timedelta or datetime arithmetic on them can overflow.
MAX_SPAN = "366 days"
SPAN_HOURS = Bound(366 * 24, MAX_SPAN)
SPAN_MINUTES = Bound(366 * 24 * 60, MAX_SPAN)
SPAN_SECONDS = Bound(366 * 24 * 3600, MAX_SPAN)
# One wait inside a run (an HTTP or database timeout, a retry's pause) longer than this is a typo.
WAIT = Bound(3600, "1 hour")
RETENTION_DAYS = Bound(36600, "100 years")
POOL_SIZE = Bound(1000)


# Off unless asked for (`make run` asks): a production .env that forgets DEBUG must not serve
# debug pages signed with the public development key.
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_KEY)
if not DEBUG and (SECRET_KEY == INSECURE_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of 50+ characters when DEBUG is off (the "
        "default); for local development set DEBUG=true instead"
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS") or ["127.0.0.1", "localhost", "[::1]"]
CSRF_TRUSTED_ORIGINS = env_origins("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "heartbeats",  # before django_crontab: its `crontab` command replaces django-crontab's
    "django_crontab",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "heartbeats.web.middleware.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if not DEBUG:
    # gunicorn serves collected static files; in DEBUG runserver serves them itself.
    MIDDLEWARE.insert(2, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "cronmonitor.urls"
WSGI_APPLICATION = "cronmonitor.wsgi.application"

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


def _tuned(config: dict) -> dict:
    """The per-engine options a database URL cannot carry."""
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        name = Path(config["NAME"] or "db.sqlite3")
        # A relative path must not depend on the directory cron happens to start in.
        config["NAME"] = str(name if name.is_absolute() else BASE_DIR / name)
        config["OPTIONS"] = {
            # Writers queue instead of failing with "database is locked".
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
    elif engine == "django.db.backends.postgresql":
        options = config.setdefault("OPTIONS", {})
        options.setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5, bound=WAIT))
        if env_bool("DB_POOL", False):
            min_size = env_int("DB_POOL_MIN_SIZE", 1, bound=POOL_SIZE)
            max_size = env_int("DB_POOL_MAX_SIZE", 4, bound=POOL_SIZE)
            if max_size < min_size:
                raise ImproperlyConfigured(
                    f"DB_POOL_MAX_SIZE must be at least DB_POOL_MIN_SIZE ({min_size}), "
                    f"not {max_size}"
                )
            options["pool"] = {
                "min_size": min_size,
                "max_size": max_size,
                "timeout": env_positive("DB_POOL_TIMEOUT", 5, WAIT),
            }
        else:
            # A new connection per request costs more than the request (docs/operations.md).
            config["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0, bound=SPAN_SECONDS)
            config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {"default": _tuned(env_database("DATABASE_URL", "sqlite:///db.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The admin writes every moment as "2026-11-30 21:24 UTC" (heartbeats/domain/durations.py), not
# "Nov. 30".
FORMAT_MODULE_PATH = "cronmonitor.formats"
USE_I18N = True
USE_TZ = True
TIME_ZONE = env_time_zone("TIME_ZONE", "UTC")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"

# HTTPS behind a proxy: the proxy says which scheme the client used, and who the client is.
BEHIND_HTTPS_PROXY = env_bool("BEHIND_HTTPS_PROXY", False)
if BEHIND_HTTPS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Load balancers and cron clients may call these over plain HTTP: a redirect loses a POST.
    SECURE_REDIRECT_EXEMPT = [r"^healthz\Z", r"^ping/"]

DEFAULT_EXCEPTION_REPORTER = "heartbeats.redaction.SecretSafeExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "heartbeats.redaction.SecretSafeExceptionReporterFilter"

# --- cronmonitor -------------------------------------------------------------------------
STALE_AFTER_HOURS = env_positive("STALE_AFTER_HOURS", 24, SPAN_HOURS)
ALERT_SUPPRESSION_HOURS = env_positive("ALERT_SUPPRESSION_HOURS", 6, SPAN_HOURS)
# More than FLAP_THRESHOLD incidents within FLAP_WINDOW_HOURS: one "flapping" alert, then anti-spam.
FLAP_THRESHOLD = env_int("FLAP_THRESHOLD", 4, minimum=1)
FLAP_WINDOW_HOURS = env_positive("FLAP_WINDOW_HOURS", 6, SPAN_HOURS)
# Every minute: a job is alerted by the first pass after its grace ends (docs/operations.md).
HEALTHCHECK_SCHEDULE = env_crontab("HEALTHCHECK_SCHEDULE", "* * * * *")
SLACK_WEBHOOK_URL = env_url("SLACK_WEBHOOK_URL", "", base=False)
RESEND_API_KEY = env.str("RESEND_API_KEY", default="")
RESEND_FROM = env.str("RESEND_FROM", default="")
ALERT_EMAIL_TO = env_list("ALERT_EMAIL_TO")
RESEND_API_URL = env_url("RESEND_API_URL", "https://api.resend.com")
PAGERDUTY_EVENTS_URL = env_url(
    "PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com/v2/enqueue", base=False
)
# Fernet keys for the secrets of channels kept in the database: the first encrypts, all decrypt
# (rotation); unset, a key derived from SECRET_KEY. Never quoted in the error: it is a secret.
CHANNEL_SECRET_KEY = env_list("CHANNEL_SECRET_KEY")
for _key in CHANNEL_SECRET_KEY:
    try:
        _valid = len(base64.urlsafe_b64decode(_key.encode())) == 32
    except ValueError:
        _valid = False
    if not _valid:
        raise ImproperlyConfigured(
            "CHANNEL_SECRET_KEY must be a comma-separated list of Fernet keys (32 url-safe "
            "base64-encoded bytes each; see docs/configuration.md to make one)"
        )
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000")
DEFAULT_GRACE_MINUTES = env_positive("DEFAULT_GRACE_MINUTES", 60, SPAN_MINUTES)
NOTIFY_ON_RECOVERY = env_bool("NOTIFY_ON_RECOVERY", True)
ALERT_DIGEST_THRESHOLD = env_int("ALERT_DIGEST_THRESHOLD", 5, minimum=0)
OUTAGE_MIN_JOBS = env_int("OUTAGE_MIN_JOBS", 5)
# A share of all jobs (rules.outage_reason): more than it silent at once looks like an outage.
OUTAGE_SHARE = env_positive("OUTAGE_SHARE", 0.5, Bound(1))
OUTAGE_GRACE_MINUTES = env_positive("OUTAGE_GRACE_MINUTES", 60, SPAN_MINUTES)
ALERT_THROTTLE = env_bool("ALERT_THROTTLE", True)
# The pause doubles with each retry: more than 10 would pause for hours within one attempt.
ALERT_RETRIES_PER_RUN = env_int("ALERT_RETRIES_PER_RUN", 2, minimum=0, bound=Bound(10))
ALERT_RETRY_BASE_SECONDS = env_positive("ALERT_RETRY_BASE_SECONDS", 1, WAIT)
ALERT_RETRY_AFTER_MAX_SECONDS = env_positive("ALERT_RETRY_AFTER_MAX_SECONDS", 30, WAIT)
ALERT_MAX_ATTEMPTS = env_int("ALERT_MAX_ATTEMPTS", 20)
ALERT_DELIVERY_LEASE_SECONDS = env_int("ALERT_DELIVERY_LEASE_SECONDS", 300, bound=SPAN_SECONDS)
RETENTION_JOB_CREATED_DAYS = env_int("RETENTION_JOB_CREATED_DAYS", 90, bound=RETENTION_DAYS)
RETENTION_JOB_SILENT_DAYS = env_int("RETENTION_JOB_SILENT_DAYS", 30, bound=RETENTION_DAYS)
RETENTION_EVENT_DAYS = env_int("RETENTION_EVENT_DAYS", 90, bound=RETENTION_DAYS)
RETENTION_ALERT_DAYS = env_int("RETENTION_ALERT_DAYS", 90, bound=RETENTION_DAYS)
RETENTION_FLIP_DAYS = env_int("RETENTION_FLIP_DAYS", 93, minimum=30, bound=RETENTION_DAYS)
RETENTION_CHECKRUN_DAYS = env_int("RETENTION_CHECKRUN_DAYS", 90, bound=RETENTION_DAYS)
ALERT_CONNECT_TIMEOUT = env_positive("ALERT_CONNECT_TIMEOUT", 5, WAIT)
ALERT_READ_TIMEOUT = env_positive("ALERT_READ_TIMEOUT", 10, WAIT)
PING_KEYS = env_ping_keys("PING_KEY")
# The management API: requests per key and minute, and the largest request body it reads.
API_RATE_LIMIT = env_int("API_RATE_LIMIT", 100, minimum=1, bound=Bound(1_000_000, "1000000"))
API_BODY_LIMIT = env_int("API_BODY_LIMIT", 65536, minimum=1024, bound=Bound(10_000_000, "10 MB"))
PING_BODY_LIMIT = env_int("PING_BODY_LIMIT", 10000, minimum=0, bound=Bound(10_000_000, "10 MB"))
PING_EVENTS_KEPT = env_int("PING_EVENTS_KEPT", 100, bound=Bound(1_000_000))

# --- django-crontab ------------------------------------------------------------------------
# Two deployments under one Unix user must not overwrite each other's crontab lines.
CRONTAB_COMMENT = env.str(
    "CRONTAB_COMMENT",
    default="cronmonitor-" + hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:12],
)
PRUNE_SCHEDULE = env_crontab("PRUNE_SCHEDULE", "17 3 * * *")
CRONJOBS = [
    (HEALTHCHECK_SCHEDULE, "heartbeats.ops.crontab_jobs.run_healthcheck"),
    (PRUNE_SCHEDULE, "heartbeats.ops.crontab_jobs.prune_heartbeats"),
]
CRONTAB_LOCK_JOBS = False

# --- summary page, /summary.json, /metrics and /healthz -------------------------------------
SUMMARY_API_TOKEN = env.str("SUMMARY_API_TOKEN", default="")
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
RECOVERY_WINDOW_MINUTES = env_positive("RECOVERY_WINDOW_MINUTES", 60, SPAN_MINUTES)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "heartbeats.redaction.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
        # runserver's request log: its lines hold URLs, and a by-name ping URL holds a key.
        "server": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "heartbeats": {
            "handlers": ["console"],
            "level": env_log_level("LOG_LEVEL", "INFO"),
            "propagate": False,
        },
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["server"], "level": "INFO", "propagate": False},
        # urllib3 logs request paths at DEBUG, and a Slack webhook's path is its secret.
        "urllib3": {"level": "WARNING"},
    },
}
