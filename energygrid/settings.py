"""Django settings for EnergyGrid, read from the environment (see README "Configuration")."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from energygrid.env import (
    env_bool,
    env_choice,
    env_decimal,
    env_header,
    env_int,
    env_list,
    env_origins,
    env_rate,
    env_str,
)
from metadata.catalog import PartnerScope

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off")
    SECRET_KEY = "insecure-debug-only-key-do-not-use-in-production"  # noqa: S105
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "oauth2_provider",
    "energygrid.api",
    "customers",
    "metadata",
    "usage",
    "insights",
    "budgets",
    "support",
    "demo",
    "partners",
]

MIDDLEWARE = [
    "energygrid.api.middleware.RequestIdMiddleware",
    "energygrid.api.logs.AccessLogMiddleware",
    "energygrid.api.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "energygrid.api.middleware.DatabaseUnavailableMiddleware",
]

# Admin login lockout (django-axes): after AXES_FAILURE_LIMIT failed logins for one username
# from one client IP, that pair is refused (429 problem) until the cool-off has passed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The client IP as the API throttles see it (NUM_PROXIES hops into X-Forwarded-For).
AXES_CLIENT_IP_CALLABLE = "energygrid.adminsite.client_ip"
AXES_LOCKOUT_CALLABLE = "energygrid.adminsite.lockout_response"

ROOT_URLCONF = "energygrid.urls"
WSGI_APPLICATION = "energygrid.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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


def _database(url: str) -> dict:
    """A database from its URL: persistent connections, health-checked once per request
    (PostgreSQL's without a round trip: ``energygrid.postgresql``)."""
    database = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    if database["ENGINE"] == "django.db.backends.postgresql":
        database["ENGINE"] = "energygrid.postgresql"
    return database


DATABASES = {"default": _database(env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}
# A read replica (streaming replication of the same database): reads outside transactions go
# there (energygrid.routers). Tests mirror it onto the test database.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {
        **_database(DATABASE_REPLICA_URL),
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["energygrid.routers.PrimaryReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "energygrid",
            # Fail fast (readiness, throttles) rather than hang on an unreachable Redis.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Failed admin logins are counted in the shared cache; a per-process one (the embedded demo)
# would not be shared by workers, so there they go to the database.
AXES_HANDLER = "axes.handlers.%s" % (
    "cache.AxesCacheHandler" if REDIS_URL else "database.AxesDatabaseHandler"
)

LANGUAGE_CODE = "en-us"
#: The languages insight texts and the insight types' names are written in (catalogs in each
#: app's ``locale/``); a customer's ``locale`` in another language reads English.
LANGUAGES = [("en", "English"), ("es", "Español"), ("fr", "Français"), ("ja", "日本語")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Set where collectstatic runs (the Docker image); elsewhere assets come from the apps.
STATIC_ROOT = env_str("STATIC_ROOT")
# WhiteNoise serves the admin's and the docs' (drf-spectacular-sidecar) assets under gunicorn
# too, straight from the installed apps, so the docs work offline with no collectstatic step.
WHITENOISE_USE_FINDERS = True

# Requests larger than this are refused with a 413 problem before any parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
# Behind a TLS-terminating proxy: the header it sets to "https" on requests that came in over
# TLS (only ever trust it when the proxy strips it from clients), so the app knows they were.
_PROXY_SSL_HEADER = env_header("DJANGO_SECURE_PROXY_SSL_HEADER")
SECURE_PROXY_SSL_HEADER = (_PROXY_SSL_HEADER, "https") if _PROXY_SSL_HEADER else None
# Origins (scheme://host) the admin's forms may be posted from, e.g. the proxy's public name.
CSRF_TRUSTED_ORIGINS = env_origins("DJANGO_CSRF_TRUSTED_ORIGINS")
# Strict-Transport-Security on responses to https requests; 0 sends none.
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", default=False)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["energygrid.api.parsers.JSONParser"],
    # Partner tokens first: they are not JWTs, which the customer class would refuse outright.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "partners.authentication.PartnerTokenAuthentication",
        "customers.authentication.CustomerJWTAuthentication",
    ],
    # A partner token also passes the one check of its grant's scopes (contract section 11.1).
    "DEFAULT_PERMISSION_CLASSES": [
        "customers.permissions.IsCustomer",
        "partners.access.PartnerScopePermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["energygrid.api.throttling.CustomerRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "login": env_rate("THROTTLE_LOGIN", "20/min"),
        "customer": env_rate("THROTTLE_CUSTOMER", "1200/min"),
        "bad_token": env_rate("THROTTLE_BAD_TOKEN", "60/min"),
    },
    # Reverse proxies in front of the app: the client IP that throttles count is taken from
    # X-Forwarded-For only this many hops deep (0: REMOTE_ADDR, so the header cannot be spoofed).
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
    "DEFAULT_PAGINATION_CLASS": None,
    "DEFAULT_SCHEMA_CLASS": "energygrid.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "energygrid.api.problems.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
}

# Our own access/refresh tokens; the principal is a customers.Customer, not a Django user.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=30),
    "ALGORITHM": "HS256",
    # Derived, so access tokens and Django's own signatures never share a key.
    "SIGNING_KEY": hashlib.sha256(f"energygrid.jwt:{SECRET_KEY}".encode()).hexdigest(),
    "AUDIENCE": "energygrid-api",
    "ISSUER": "energygrid",
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}

# Access tokens resolve to their customer through a per-process cache kept this long: the bound
# on how late a deactivation (or a changed billing currency) reaches requests.
AUTH_CUSTOMER_CACHE_SECONDS = env_int("AUTH_CUSTOMER_CACHE_SECONDS", 30)

# Rendered Usage pages each web process keeps (bytes; 0: none). Keyed by the meter's rollup
# revision, so a page is never served after its rollups changed.
USAGE_PAGE_CACHE_BYTES = env_int("USAGE_PAGE_CACHE_BYTES", 32 * 1024 * 1024)
# HOUR items kept in Redis per meter and local month (at a rollup revision), shared by every process
# (usage.hour_items), this many seconds after they were rendered (0: none).
USAGE_HOUR_ITEMS_SECONDS = env_int("USAGE_HOUR_ITEMS_SECONDS", 24 * 3600)
# Partner apps (contract section 11): django-oauth-toolkit is the authorization server, for the
# authorization code grant with PKCE S256 only; consent is recorded by POST
# /Customer/authorizations, so DOT's own authorize page is not mounted.
OAUTH2_PROVIDER_GRANT_MODEL = "partners.AuthorizationCode"
# DOT's own models, named so migrations that point at them resolve (its swappable settings).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # noqa: S105 (a model name)
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"  # noqa: S105
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"  # noqa: S105
OAUTH2_PROVIDER = {
    "SCOPES": {scope.value.id: scope.value.name for scope in PartnerScope},
    "DEFAULT_SCOPES": [],
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 90 * 24 * 3600,
    "ROTATE_REFRESH_TOKEN": True,
    # A rotated-away refresh token used again revokes its whole family.
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # Tokens are stored as their SHA-256 only; client secrets are hashed (DOT's default).
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "OAUTH2_VALIDATOR_CLASS": "partners.oauth.PartnerOAuth2Validator",
    "ACCESS_TOKEN_GENERATOR": "partners.oauth.access_token_generator",
    "REFRESH_TOKEN_GENERATOR": "partners.oauth.refresh_token_generator",
}

# Verification of utilities' ID tokens (contract section 2).
IDENTITY_TOKEN_LEEWAY_SECONDS = 60
IDENTITY_TOKEN_ALGORITHMS = ["RS256", "ES256"]
# Longest lifetime (exp - iat) an ID token may have; ID tokens are meant for minutes.
IDENTITY_TOKEN_MAX_LIFETIME_SECONDS = 24 * 3600
JWKS_FETCH_TIMEOUT_SECONDS = 5
JWKS_CACHE_SECONDS = 3600
# A failing JWKS URL is not fetched again for this long, doubling per failure up to the max.
JWKS_FAILURE_BACKOFF_SECONDS = 30
JWKS_FAILURE_BACKOFF_MAX_SECONDS = 600

SPECTACULAR_SETTINGS = {
    "TITLE": "EnergyGrid Usage API",
    "DESCRIPTION": (
        "Customer-facing read API: energy usage history, budgets and insights. "
        "Errors are RFC 9457 problem details (application/problem+json)."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/usage/v1",
    "ENUM_NAME_OVERRIDES": {
        "GranularityEnum": "metadata.catalog.GRANULARITY_IDS",
        "ServiceTypeEnum": "metadata.catalog.SERVICE_TYPE_IDS",
        "UnitOfMeasureEnum": "metadata.catalog.UNIT_OF_MEASURE_IDS",
        "InsightTypeEnum": "metadata.catalog.INSIGHT_TYPE_IDS",
        "BudgetPeriodEnum": "metadata.catalog.BUDGET_PERIOD_IDS",
        "FlowDirectionEnum": "metadata.catalog.FLOW_DIRECTION_IDS",
        "BudgetKindEnum": "budgets.models.BudgetKind",
        "BudgetStateEnum": "budgets.models.BudgetState",
        "AccountStatusEnum": "customers.models.AccountStatus",
        "InsightStatusEnum": "insights.models.INSIGHT_STATUS_IDS",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "energygrid.api.schema.add_problem_responses",
        "energygrid.api.schema.add_links",
    ],
}

# Celery: with no REDIS_URL, tasks run eagerly in-process (the embedded demo default). Eager
# calls still open a producer on the in-memory broker: it names a host so kombu does not warn.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
# Results are not used by callers; tasks write their outcome to the database.
CELERY_TASK_IGNORE_RESULT = True
# Eager execution when no broker is configured, so the demo needs nothing installed.
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
# Eager tasks raise like normal code, so failures are never silent in the demo or tests.
CELERY_TASK_EAGER_PROPAGATES = True
# Acknowledge after the task ran, and requeue a task whose worker process died under it
# (SIGKILL, OOM): every task is idempotent, so running one again is always safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# No task runs unbounded: the soft limit raises in the task (its transaction rolls back and
# the dirty ranges it was catching up stay for the sweep), the hard limit kills the process.
CELERY_TASK_SOFT_TIME_LIMIT = 15 * 60
CELERY_TASK_TIME_LIMIT = 20 * 60
# Redis hands an unacknowledged task to another worker after this long: longer than the hard
# limit, so a task still running is never started twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * CELERY_TASK_TIME_LIMIT}
# Three queues, one worker pool each, so a long insights night never delays a rollup:
# "ingest" (readings partitions, rollups), "insights", "default" (the rest).
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "usage.tasks.*": {"queue": "ingest"},
    "insights.tasks.*": {"queue": "insights"},
}
# One task at a time per worker process: rollups and insights are heavy.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Tasks run (with meter_id=) after a meter's rollups catch up: they read the fresh rollups.
ROLLUP_FOLLOW_UP_TASKS = [
    "budgets.tasks.budget_alerts_check",
    "insights.tasks.insights_refresh_for_meter",
]
# Called (meter=, start=, end=) inside the transaction in which rollups catch up with new
# readings: partners record usage.available webhook events there (an outbox).
ROLLUP_CAUGHT_UP_HOOKS = ["partners.events.usage_available"]
# Called (insights=[new Insight rows]) inside the transaction that stores new insights.
INSIGHTS_CREATED_HOOKS = ["partners.events.insights_created"]
# Webhooks: seconds to wait before each retry of a failed delivery (about 27 h in all, so a
# receiver down for a day still gets every event), and the request timeout.
WEBHOOK_RETRY_DELAYS = [5, 300, 1800, 7200, 18000, 36000, 36000]
WEBHOOK_TIMEOUT_SECONDS = 10
# A bill forecast this much above the previous period's bill raises a HIGH_BILL_ALERT.
INSIGHTS_HIGH_BILL_MARGIN = env_decimal("INSIGHTS_HIGH_BILL_MARGIN", "0.2")
# Periodic work; each entry expires just under its period so missed runs don't pile up.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "purge-expired-identity-tokens": {
        "task": "customers.tasks.purge_expired_tokens",
        "schedule": timedelta(hours=1),
        "options": {"expires": 55 * 60},
    },
    # Rollups whose catch-up task was lost or failed (their dirty ranges are still recorded).
    "usage-rollups-sweep": {
        "task": "usage.tasks.rollups_sweep",
        "schedule": timedelta(minutes=10),
        "options": {"expires": 9 * 60},
    },
    # Webhook retries that are due, and events whose delivery task was lost.
    "partners-webhooks-sweep": {
        "task": "partners.tasks.webhooks_sweep",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 25},
    },
    # Readings partitions for the coming months exist before any data lands in them.
    "usage-reading-partitions-ahead": {
        "task": "usage.tasks.reading_partitions_ensure_ahead",
        "schedule": timedelta(days=1),
        "options": {"expires": 23 * 3600},
    },
    # BUDGET_ALERT insights for thresholds that usage landed since the last run has crossed.
    "budgets-alerts-check": {
        "task": "budgets.tasks.budget_alerts_check",
        "schedule": timedelta(hours=1),
        "options": {"expires": 55 * 60},
    },
    # Idempotency-Key records past their 24 hours.
    "budgets-idempotency-purge": {
        "task": "budgets.tasks.idempotency_records_purge",
        "schedule": timedelta(hours=1),
        "options": {"expires": 55 * 60},
    },
    # Every customer's insights, nightly, once the night's readings and rollups have landed.
    "insights-nightly": {
        "task": "insights.tasks.insights_nightly",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 23 * 3600},
    },
}

# One JSON object per line (LOG_FORMAT=json, the default) or plain text for a terminal; every
# line carries the request id, and energygrid.access writes one line per request.
LOG_FORMAT = env_choice("LOG_FORMAT", "json", ["json", "plain"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "energygrid.api.request_context.RequestIdLogFilter"}},
    "formatters": {
        "json": {"()": "energygrid.api.logs.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR", "propagate": True},
        # Lockouts and failed admin logins (warnings), not axes' start-up banner (info), which
        # would otherwise precede every management command's output.
        "axes": {"level": "WARNING", "propagate": True},
    },
}

# /metrics (Prometheus) is served outside /usage/v1; with a token set it answers only to
# "Authorization: Bearer <token>" (404 otherwise).
METRICS_TOKEN = env_str("METRICS_TOKEN")
