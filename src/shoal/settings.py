"""Shoal settings. Everything comes from environment variables with safe defaults (see README)."""

import os
from pathlib import Path

import dj_database_url
from django.templatetags.static import static
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
DATA_DIR = Path(os.environ.get("SHOAL_DATA_DIR", PROJECT_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    # Generated once per data directory and kept there, so sessions survive restarts.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        from django.core.management.utils import get_random_secret_key

        path.write_text(get_random_secret_key())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("SHOAL_DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]
VERSION = "0.1.0"

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "ninja",
    "shoal.core",
    "shoal.accounts",
    "shoal.schedules",
    "shoal.customers",
    "shoal.segments",
    "shoal.tags",
    "shoal.imports",
    "shoal.pools",
    "shoal.sales",
    "shoal.automation",  # processors, message templates, SMS/email/webhook delivery
    "shoal.events",
    "shoal.strategies",  # automation strategies and their tasks
    "shoal.setup",  # run, bootstrap, demo: the commands that know every app
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "shoal.core.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "shoal.core.request_context.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "shoal.accounts.middleware.UserLanguageMiddleware",
    "shoal.accounts.middleware.ForcePasswordChangeMiddleware",
    "axes.middleware.AxesMiddleware",
    "shoal.core.middleware.ApiErrorShapeMiddleware",
]

ROOT_URLCONF = "shoal.urls"
WSGI_APPLICATION = "shoal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite under the data directory by default, PostgreSQL through DATABASE_URL.
_default_db = f"sqlite:///{DATA_DIR / 'shoal.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", _default_db), conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000; "
                        "PRAGMA mmap_size=1073741824;",  # reads of a big database without a read() per page
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "shoal.accounts.backends.ShoalBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if _env_bool("SHOAL_FAST_HASHER", False):  # tests only: argon2 is slow by design
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# django-axes: lock an account (by username + IP) after repeated failures.
AXES_FAILURE_LIMIT = int(os.environ.get("SHOAL_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("SHOAL_LOGIN_COOLOFF_HOURS", "0.5"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "shoal.accounts.views.lockout_response"
AXES_VERBOSE = False
AXES_ENABLED = _env_bool("SHOAL_AXES_ENABLED", True)
# Proxies in front of Shoal that append to X-Forwarded-For (0: none; the client address is REMOTE_ADDR).
SHOAL_TRUSTED_PROXIES = int(os.environ.get("SHOAL_TRUSTED_PROXIES", "0"))
AXES_IPWARE_PROXY_COUNT = SHOAL_TRUSTED_PROXIES or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if SHOAL_TRUSTED_PROXIES
                                     else ("REMOTE_ADDR",))

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
FORMAT_MODULE_PATH = ["shoal.formats"]  # one date/number style in both languages
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
SHOAL_ATTACHMENTS_ROOT = os.environ.get("SHOAL_ATTACHMENTS_ROOT") or str(DATA_DIR / "attachments")
# "Refresh now" of auto tags runs in the request up to this many customers; beyond, it is queued as a job.
SHOAL_TAG_REFRESH_INLINE_MAX = int(os.environ.get("SHOAL_TAG_REFRESH_INLINE_MAX", "50000"))
# Full refreshes of auto tags evaluate the rules they can in process (numpy over columns fetched once per range).
SHOAL_TAG_COLUMNAR = os.environ.get("SHOAL_TAG_COLUMNAR", "1") != "0"
# a full tag refresh evaluates the next range on a second connection while it writes one (tags.refresh)
SHOAL_TAG_READ_AHEAD = os.environ.get("SHOAL_TAG_READ_AHEAD", "1") != "0"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# -- automation: outbound HTTP, SMTP, SMS (see README "Outbound calls, email and SMS") --
def _env_list(name: str) -> list[str]:
    return [v.strip() for v in os.environ.get(name, "").split(",") if v.strip()]


# Networks Shoal may call although they are private/loopback (comma-separated CIDRs; empty: none).
SHOAL_OUTBOUND_ALLOWED_NETWORKS = _env_list("SHOAL_OUTBOUND_ALLOWED_NETWORKS")
SHOAL_OUTBOUND_TIMEOUT = float(os.environ.get("SHOAL_OUTBOUND_TIMEOUT", "10"))
SHOAL_OUTBOUND_MAX_BYTES = int(os.environ.get("SHOAL_OUTBOUND_MAX_BYTES", str(1024 * 1024)))
SHOAL_OUTBOUND_MAX_REDIRECTS = int(os.environ.get("SHOAL_OUTBOUND_MAX_REDIRECTS", "5"))
# Email of processors and templates: SMTP (empty host: emails are only written to the email log).
SHOAL_SMTP_HOST = os.environ.get("SHOAL_SMTP_HOST", "")
SHOAL_SMTP_PORT = int(os.environ.get("SHOAL_SMTP_PORT", "25"))
SHOAL_SMTP_USER = os.environ.get("SHOAL_SMTP_USER", "")
SHOAL_SMTP_PASSWORD = os.environ.get("SHOAL_SMTP_PASSWORD", "")
SHOAL_SMTP_FROM = os.environ.get("SHOAL_SMTP_FROM", "shoal@localhost")
SHOAL_SMTP_TLS = os.environ.get("SHOAL_SMTP_TLS", "").strip().lower()  # "", "starttls" or "ssl"
SHOAL_SMTP_TIMEOUT = float(os.environ.get("SHOAL_SMTP_TIMEOUT", "20"))
# SMS: "log" (development: written to the SMS log only), "http" (the generic HTTP gateway below) or the
# dotted path of a provider class.
SHOAL_SMS_PROVIDER = os.environ.get("SHOAL_SMS_PROVIDER", "log")
SHOAL_SMS_HTTP_URL = os.environ.get("SHOAL_SMS_HTTP_URL", "")
SHOAL_SMS_HTTP_METHOD = os.environ.get("SHOAL_SMS_HTTP_METHOD", "POST")
SHOAL_SMS_HTTP_AUTH = os.environ.get("SHOAL_SMS_HTTP_AUTH", "")  # the Authorization header's value
SHOAL_SMS_HTTP_BODY = os.environ.get(
    "SHOAL_SMS_HTTP_BODY", '{"mobile": "${mobile}", "content": "${content}", "template": "${template}", '
                           '"variables": "${variables}"}')  # JSON (a lone "${x}" keeps x's type) or a form body

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Outgoing email (SMTP) for task reminders (the parameter TASK_REMINDER_EMAIL turns them on), the email processor
# and templates: the SHOAL_SMTP_* settings above. SHOAL_SMTP_STARTTLS / SHOAL_SMTP_SSL (true/false) are accepted
# too, for SHOAL_SMTP_TLS=starttls / ssl. Django's EMAIL_* settings follow these.
if not SHOAL_SMTP_TLS:
    SHOAL_SMTP_TLS = "ssl" if _env_bool("SHOAL_SMTP_SSL", False) else (
        "starttls" if _env_bool("SHOAL_SMTP_STARTTLS", False) else "")
SHOAL_SMTP_STARTTLS, SHOAL_SMTP_SSL = SHOAL_SMTP_TLS == "starttls", SHOAL_SMTP_TLS == "ssl"
SHOAL_BASE_URL = os.environ.get("SHOAL_BASE_URL", "")  # e.g. https://crm.example.com: links in emails
EMAIL_HOST, EMAIL_PORT = SHOAL_SMTP_HOST or "localhost", SHOAL_SMTP_PORT
EMAIL_HOST_USER, EMAIL_HOST_PASSWORD = SHOAL_SMTP_USER, SHOAL_SMTP_PASSWORD
EMAIL_USE_TLS, EMAIL_USE_SSL, EMAIL_TIMEOUT = SHOAL_SMTP_STARTTLS, SHOAL_SMTP_SSL, SHOAL_SMTP_TIMEOUT
DEFAULT_FROM_EMAIL = SERVER_EMAIL = SHOAL_SMTP_FROM

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_403_traceback": {"()": "shoal.core.errorpages.DropPermissionDeniedTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"},
                # ordinary 403s are logged as one line by shoal.core.errorpages.permission_denied
                "django.request": {"filters": ["no_403_traceback"]}},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# HTTPS deployment (see README): HSTS, redirect to HTTPS, and the proxy header that says a request
# came in over HTTPS. All off by default so that `make run` works over plain http://127.0.0.1.
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # probes from the host itself speak plain HTTP
if _env_bool("SECURE_PROXY_SSL_HEADER", False):  # only behind a proxy that sets X-Forwarded-Proto
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy (django-csp) on every response. Everything is served by Shoal itself (no
# CDN) and there is no inline <script>. 'unsafe-eval' is needed by Alpine.js (unfold's UI evaluates
# its x-data/x-on expressions with new Function()); style-src keeps 'unsafe-inline' because unfold's
# templates and Alpine/htmx set style attributes, which nonces cannot cover.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'unsafe-eval'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

NINJA_PAGINATION_PER_PAGE = 20


UNFOLD = {
    "SITE_TITLE": "Shoal",
    "SITE_HEADER": "Shoal",
    "SITE_SUBHEADER": _("Customer data & sales"),
    "SITE_URL": "/",
    "SITE_SYMBOL": "waves",
    "SITE_FAVICONS": [{"rel": "icon", "type": "image/svg+xml", "href": lambda request: static("shoal/favicon.svg")}],
    "SHOW_HISTORY": False,
    "SHOW_VIEW_ON_SITE": False,
    "SHOW_LANGUAGES": True,
    "DASHBOARD_CALLBACK": "shoal.core.views_workbench.workbench_callback",
    "STYLES": [lambda request: static("shoal/shoal.css")],
    "LANGUAGES": {"action": reverse_lazy("language")},
    "ACCOUNT": {
        "navigation": [
            {"title": _("Change password"), "link": reverse_lazy("admin:password_change")},
            {"title": _("My permissions"), "link": reverse_lazy("admin:my_permissions")},
            {"title": _("My API tokens"), "link": reverse_lazy("admin:my_tokens")},
        ]
    },
    "SIDEBAR": {
        "show_search": False,
        "show_all_applications": False,
        "navigation": "shoal.core.navigation.sidebar",
    },
}
