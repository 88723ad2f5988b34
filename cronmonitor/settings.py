"""Settings for cronmonitor, read from the environment or a `.env` file beside manage.py.

Every variable is documented in README.md and .env.example. The `.env` file matters most for
cron: cron starts jobs with an empty environment, so the checker it runs must find the
deployment's configuration on disk, not in the shell that installed the crontab.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from cronsim import CronSim, CronSimError
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE = Path(os.environ.get("CRONMONITOR_ENV_FILE", BASE_DIR / ".env"))

env = environ.Env()
if ENV_FILE.is_file():
    env.read_env(ENV_FILE)

INSECURE_KEY = "django-insecure-local-development-key-change-me"
UUID_SHAPE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


# The longest span the app computes with (heartbeats.schedules.MAX_SPAN): durations stay
# within it, so no timedelta or datetime arithmetic on them can overflow.
MAX_SPAN_DAYS = 366
MAX_SPAN = f"{MAX_SPAN_DAYS} days"
MAX_SPAN_SECONDS = MAX_SPAN_DAYS * 24 * 3600
# One wait inside a run (an HTTP or database timeout, a retry's pause) longer than this is a typo.
MAX_WAIT_SECONDS = 3600
MAX_RETENTION_DAYS = 36600
MAX_POOL_SIZE = 1000
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _env_number(name: str, default: float, cast: type, what: str) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return cast(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {what}, not {raw!r}") from None


def _bound(maximum: float, meaning: str) -> str:
    return f"{maximum} ({meaning})" if meaning else str(maximum)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_positive(name: str, default: float, maximum: float, meaning: str = "") -> float:
    value = _env_number(name, default, float, "a number")
    # NaN fails every comparison and infinity exceeds any maximum, so both are refused here.
    if not 0 < value <= maximum:
        raise ImproperlyConfigured(
            f"{name} must be greater than 0 and at most {_bound(maximum, meaning)}, "
            f"not {os.environ[name].strip()}"
        )
    return value


def env_hours(name: str, default: float) -> float:
    return env_positive(name, default, MAX_SPAN_DAYS * 24, MAX_SPAN)


def env_minutes(name: str, default: float) -> float:
    return env_positive(name, default, MAX_SPAN_DAYS * 24 * 60, MAX_SPAN)


def env_wait(name: str, default: float) -> float:
    """Seconds of one wait inside a run: a timeout or a pause between retries."""
    return env_positive(name, default, MAX_WAIT_SECONDS, "1 hour")


def env_int(
    name: str, default: int, minimum: int = 1, maximum: int | None = None, meaning: str = ""
) -> int:
    value = _env_number(name, default, int, "a whole number")
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(
            f"{name} must be at most {_bound(maximum, meaning)}, not {value}"
        )
    return value


def env_days(name: str, default: int) -> int:
    return env_int(name, default, maximum=MAX_RETENTION_DAYS, meaning="100 years")


def env_log_level(name: str, default: str) -> str:
    raw = os.environ.get(name, "")
    value = raw.strip().upper() or default
    if value not in LOG_LEVELS:
        raise ImproperlyConfigured(
            f"{name} must be one of {', '.join(LOG_LEVELS)} (any case), not {raw!r}"
        )
    return value


def env_crontab(name: str, default: str) -> str:
    value = env.str(name, default=default).strip()
    try:
        CronSim(value, datetime(2000, 1, 1))
    except (CronSimError, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} must be a crontab expression: {exc}") from None
    return value


def env_list(name: str) -> list[str]:
    return [item.strip() for item in env.str(name, default="").split(",") if item.strip()]


def env_ping_keys(name: str) -> list[str]:
    """Ping keys sit in URLs beside job UUIDs: URL-safe, hard to guess, never UUID-shaped."""
    keys = env_list(name)
    for key in keys:
        if not re.fullmatch(r"[A-Za-z0-9_~.-]{16,}", key) or re.fullmatch(UUID_SHAPE, key):
            raise ImproperlyConfigured(
                f"{name} must list keys of 16+ URL-safe characters (letters, digits, _ ~ . -) "
                "that are not UUIDs; generate one with: python -c 'import secrets; "
                "print(secrets.token_urlsafe(16))'"
            )
    return keys


def _http_url(value: str) -> SplitResult | None:
    """The parts of an http(s) URL with a host and a numeric port (if any), else None."""
    if re.search(r"\s", value):
        return None
    try:
        parts = urlsplit(value)
        # Reading the port raises ValueError when it is not a number from 0 to 65535.
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.port == 0:
            return None
    except ValueError:
        return None
    return parts


def env_url(name: str, default: str, *, base: bool = True) -> str:
    """An http(s) URL, blank for the default. Paths are appended to a base URL, so it takes no
    query or fragment. The message never quotes the value: a webhook URL is a secret."""
    value = env.str(name, default="").strip() or default
    if not value:
        return value
    parts = _http_url(value)
    if parts is None or (base and (parts.query or parts.fragment)):
        rule = " and no query or fragment" if base else ""
        raise ImproperlyConfigured(f"{name} must be an https:// or http:// URL with a host{rule}")
    return value.rstrip("/") if base else value


def env_origins(name: str) -> list[str]:
    """Origins as browsers send them: Django compares them whole, so a path never matches."""
    origins = env_list(name)
    for origin in origins:
        parts = _http_url(origin)
        if parts is None or parts.path or parts.query or parts.fragment:
            raise ImproperlyConfigured(
                f"{name} must list origins such as https://cron.example.com (scheme and host, "
                f"no path), not {origin!r}"
            )
    return origins


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
    "heartbeats.middleware.RejectNulMiddleware",
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


DATABASE_ENGINES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}
DATABASE_SCHEMES = "sqlite:///<path> or postgres://user:password@host:port/name (or postgresql://)"


def _database(url: str) -> dict:
    # Messages here never quote the URL, nor django-environ's errors: either may hold the password.
    scheme, separator, _ = url.strip().partition("://")
    scheme = scheme.lower()
    if not separator or environ.Env.DB_SCHEMES.get(scheme) not in DATABASE_ENGINES:
        given = (
            f", not {scheme}://" if separator and re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme) else ""
        )
        raise ImproperlyConfigured(f"DATABASE_URL must be {DATABASE_SCHEMES}{given}")
    try:
        config = environ.Env.db_url_config(url.strip())
    except (ImproperlyConfigured, ValueError, KeyError):
        raise ImproperlyConfigured(
            f"DATABASE_URL is not a valid database URL: expected {DATABASE_SCHEMES}, with a "
            "numeric port and special characters in the password percent-encoded"
        ) from None
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
        options.setdefault(
            "connect_timeout",
            env_int("DB_CONNECT_TIMEOUT", 5, maximum=MAX_WAIT_SECONDS, meaning="1 hour"),
        )
        if env_bool("DB_POOL", False):
            min_size = env_int("DB_POOL_MIN_SIZE", 1, maximum=MAX_POOL_SIZE)
            max_size = env_int("DB_POOL_MAX_SIZE", 4, maximum=MAX_POOL_SIZE)
            if max_size < min_size:
                raise ImproperlyConfigured(
                    f"DB_POOL_MAX_SIZE must be at least DB_POOL_MIN_SIZE ({min_size}), "
                    f"not {max_size}"
                )
            options["pool"] = {
                "min_size": min_size,
                "max_size": max_size,
                "timeout": env_wait("DB_POOL_TIMEOUT", 5),
            }
        else:
            # A new connection per request costs more than the request (README, Production).
            config["CONN_MAX_AGE"] = env_int(
                "DB_CONN_MAX_AGE", 60, minimum=0, maximum=MAX_SPAN_SECONDS, meaning=MAX_SPAN
            )
            config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {"default": _database(env.str("DATABASE_URL", default="sqlite:///db.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The admin writes every moment as "2026-11-30 21:24 UTC" (heartbeats/timefmt.py), not "Nov. 30".
FORMAT_MODULE_PATH = "cronmonitor.formats"
USE_I18N = True
USE_TZ = True
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE must be an IANA time zone, not {TIME_ZONE!r}") from None

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

DEFAULT_EXCEPTION_REPORTER = "heartbeats.logging.SecretSafeExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "heartbeats.logging.SecretSafeExceptionReporterFilter"

# --- cronmonitor -------------------------------------------------------------------------
STALE_AFTER_HOURS = env_hours("STALE_AFTER_HOURS", 24)
ALERT_SUPPRESSION_HOURS = env_hours("ALERT_SUPPRESSION_HOURS", 6)
# More than FLAP_THRESHOLD incidents within FLAP_WINDOW_HOURS: one "flapping" alert, then anti-spam.
FLAP_THRESHOLD = env_int("FLAP_THRESHOLD", 4, minimum=1)
FLAP_WINDOW_HOURS = env_hours("FLAP_WINDOW_HOURS", 6)
# Every minute: a job is alerted by the first pass after its grace ends (README, Scheduling).
HEALTHCHECK_SCHEDULE = env_crontab("HEALTHCHECK_SCHEDULE", "* * * * *")
SLACK_WEBHOOK_URL = env_url("SLACK_WEBHOOK_URL", "", base=False)
RESEND_API_KEY = env.str("RESEND_API_KEY", default="")
RESEND_FROM = env.str("RESEND_FROM", default="")
ALERT_EMAIL_TO = env_list("ALERT_EMAIL_TO")
RESEND_API_URL = env_url("RESEND_API_URL", "https://api.resend.com")
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000")
DEFAULT_GRACE_MINUTES = env_minutes("DEFAULT_GRACE_MINUTES", 60)
NOTIFY_ON_RECOVERY = env_bool("NOTIFY_ON_RECOVERY", True)
ALERT_DIGEST_THRESHOLD = env_int("ALERT_DIGEST_THRESHOLD", 5, minimum=0)
OUTAGE_MIN_JOBS = env_int("OUTAGE_MIN_JOBS", 5)
# A share of all jobs (rules.outage_reason): more than it silent at once looks like an outage.
OUTAGE_SHARE = env_positive("OUTAGE_SHARE", 0.5, maximum=1)
OUTAGE_GRACE_MINUTES = env_minutes("OUTAGE_GRACE_MINUTES", 60)
ALERT_THROTTLE = env_bool("ALERT_THROTTLE", True)
# The pause doubles with each retry: more than 10 would pause for hours within one attempt.
ALERT_RETRIES_PER_RUN = env_int("ALERT_RETRIES_PER_RUN", 2, minimum=0, maximum=10)
ALERT_RETRY_BASE_SECONDS = env_wait("ALERT_RETRY_BASE_SECONDS", 1)
ALERT_RETRY_AFTER_MAX_SECONDS = env_wait("ALERT_RETRY_AFTER_MAX_SECONDS", 30)
ALERT_MAX_ATTEMPTS = env_int("ALERT_MAX_ATTEMPTS", 20)
ALERT_DELIVERY_LEASE_SECONDS = env_int(
    "ALERT_DELIVERY_LEASE_SECONDS", 300, maximum=MAX_SPAN_SECONDS, meaning=MAX_SPAN
)
RETENTION_JOB_CREATED_DAYS = env_days("RETENTION_JOB_CREATED_DAYS", 90)
RETENTION_JOB_SILENT_DAYS = env_days("RETENTION_JOB_SILENT_DAYS", 30)
RETENTION_EVENT_DAYS = env_days("RETENTION_EVENT_DAYS", 90)
RETENTION_ALERT_DAYS = env_days("RETENTION_ALERT_DAYS", 90)
RETENTION_CHECKRUN_DAYS = env_days("RETENTION_CHECKRUN_DAYS", 90)
ALERT_CONNECT_TIMEOUT = env_wait("ALERT_CONNECT_TIMEOUT", 5)
ALERT_READ_TIMEOUT = env_wait("ALERT_READ_TIMEOUT", 10)
PING_KEYS = env_ping_keys("PING_KEY")
PING_BODY_LIMIT = env_int("PING_BODY_LIMIT", 10000, minimum=0, maximum=10_000_000, meaning="10 MB")
PING_EVENTS_KEPT = env_int("PING_EVENTS_KEPT", 100, maximum=1_000_000)

# --- django-crontab ------------------------------------------------------------------------
# Two deployments under one Unix user must not overwrite each other's crontab lines.
CRONTAB_COMMENT = env.str(
    "CRONTAB_COMMENT",
    default="cronmonitor-" + hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:12],
)
PRUNE_SCHEDULE = env_crontab("PRUNE_SCHEDULE", "17 3 * * *")
CRONJOBS = [
    (HEALTHCHECK_SCHEDULE, "heartbeats.cron.run_healthcheck"),
    (PRUNE_SCHEDULE, "heartbeats.cron.prune_heartbeats"),
]
CRONTAB_LOCK_JOBS = False

# --- summary page, /summary.json, /metrics and /healthz -------------------------------------
SUMMARY_API_TOKEN = env.str("SUMMARY_API_TOKEN", default="")
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
RECOVERY_WINDOW_MINUTES = env_minutes("RECOVERY_WINDOW_MINUTES", 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "heartbeats.logging.RedactSecretsFilter"}},
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
