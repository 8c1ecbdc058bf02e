"""Settings, all read from the environment (see `.env.example` for every variable)."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. Set DEBUG=1 for local development, "
            "or put a long random SECRET_KEY in the environment (see .env.example)."
        )
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "django_htmx",
    "axes",
    "django_tasks_db",
    "reviewapp",
    "accounts",
    "traces",
    "labeling",
    "explorer",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "reviewapp.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "reviewapp.errors.FriendlyErrorsMiddleware",
    # Last: turns a locked-out sign-in into the lockout page (accounts.throttle).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "reviewapp.urls"
WSGI_APPLICATION = "reviewapp.wsgi.application"

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
            "builtins": ["django_htmx.templatetags.django_htmx"],
        },
    },
]
# Form markup: templates/django/forms/field.html overrides Django's field template.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

# Database: DATABASE_URL, defaulting to an SQLite file in the project folder.
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers queue (IMMEDIATE + busy timeout) instead of failing with
    # "database is locked"; WAL lets readers run alongside the writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_NAME", "")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE") or 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in throttling (django-axes, accounts.throttle): after AXES_FAILURE_LIMIT failed sign-ins
# in a row, the account is locked, and so is the address they came from, for AXES_COOLOFF_TIME
# (every further try starts the wait again). A curator or admin unlocks at once by deleting
# the account's "Access attempts" in the admin (or `manage.py axes_reset_username NAME`).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT") or 5)
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_LOCKOUT_MINUTES") or 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.throttle.locked_out"
AXES_CLIENT_IP_CALLABLE = "accounts.throttle.client_ip"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are not recorded, only failures
AXES_VERBOSE = False
# How many proxies in front of the app append to X-Forwarded-For (0: the client connects
# directly, and REMOTE_ADDR is its address).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT") or 0)

# How many labels (new ones and edits) one user may save in the trace explorer per minute.
LABEL_WRITES_PER_MINUTE = int(os.environ.get("LABEL_WRITES_PER_MINUTE") or 30)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves hashed, compressed files collected by `manage.py collectstatic`;
# development and tests serve the source files directly.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST

# Uploads of MLflow trace JSON can be large; keep request bodies bounded.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE") or 10 * 1024**2)
# OTLP ingest (POST /v1/traces): largest body as sent, and once decompressed (gzip bombs stop
# there). Larger requests get 413.
OTLP_MAX_BODY_BYTES = int(os.environ.get("OTLP_MAX_BODY_BYTES") or 16 * 1024**2)
OTLP_MAX_DECOMPRESSED_BYTES = int(os.environ.get("OTLP_MAX_DECOMPRESSED_BYTES") or 64 * 1024**2)
# Trace files uploaded by curators (/console/import/): largest total per upload.
TRACE_UPLOAD_MAX_BYTES = int(os.environ.get("TRACE_UPLOAD_MAX_BYTES") or 100 * 1024**2)

# Sessions live in a signed cookie (Django's signed_cookies backend): no session row to read or
# write on every request, and nothing of it in app processes. A session holds the login and
# flash messages only; signing out clears the cookie, and changing the password or deactivating
# the account ends every session at once (Django checks both on each request).
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CSRF_FAILURE_VIEW = "reviewapp.views.csrf_failure"
# Content-Security-Policy (Django's own middleware): scripts, styles, fonts and images from this
# site only, nothing inline (no page has an inline script, style element or style attribute;
# htmx's indicator styles are off, see base.html), no plugins, no framing, forms post here.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_PROXY_SSL_HEADER = (
        ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_HTTPS_PROXY") else None
    )
    # HTTPS only (unless SECURE_COOKIES=0, plain HTTP): plain-HTTP requests are redirected, and
    # browsers told to use HTTPS for a year. SECURE_SSL_REDIRECT=0 when a TLS-terminating proxy
    # does the redirect itself (and does not pass X-Forwarded-Proto); SECURE_HSTS_SECONDS=0 to
    # leave HSTS to the proxy.
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=SESSION_COOKIE_SECURE)
    SECURE_HSTS_SECONDS = int(
        os.environ.get("SECURE_HSTS_SECONDS") or (31_536_000 if SESSION_COOKIE_SECURE else 0)
    )
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    # The header only allows submitting the domain to browsers' preload list; it enrolls nothing.
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
    # The health check answers load balancers over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Background jobs (bulk accept …): Django's tasks framework with the ORM-backed backend of
# django-tasks-db, so the queue lives in the app's own database and no other server is needed.
# Run `manage.py db_worker` beside the app processes (bin/dev starts one). Tests run tasks
# at once with Django's immediate backend (TASKS_BACKEND in pyproject.toml).
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND") or "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

# Refused requests (4xx) are logged as one line each, without a traceback; 5xx keep theirs
# (reviewapp.request_log).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"refused": {"()": "reviewapp.request_log.RefusedRequestFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["refused"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # axes: lockouts and failures are warnings; its note on every successful sign-in is not kept.
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}
