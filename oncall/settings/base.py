"""Settings shared by every environment, read from the environment (django-environ).

Defaults run on a laptop with nothing installed: SQLite (WAL) under var/ and Celery's
filesystem broker under var/. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.
"""

import zoneinfo as _zoneinfo
from datetime import time as _time
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from kombu import Exchange, Queue

from oncall.broker import folders as broker_folders
from oncall.sso.rolemap import parse_role_map

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# An optional .env beside manage.py; real environment variables win over it.
env.read_env(BASE_DIR / ".env", overwrite=False)
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "adminsortable2",
    "axes",
    "oncall.apps.OncallConfig",
    "rotations.apps.RotationsConfig",
    "notifications.apps.NotificationsConfig",
    "incidents.apps.IncidentsConfig",
    "integrations.apps.IntegrationsConfig",
    "postmortems.apps.PostmortemsConfig",
    "playbooks.apps.PlaybooksConfig",
    "reports.apps.ReportsConfig",
    "insights.apps.InsightsConfig",
    "monitoring.apps.MonitoringConfig",
    "auditlog",
    "audit.apps.AuditConfig",
]

MIDDLEWARE = [
    # First: the request id and one log line per request, timed around everything else.
    "oncall.logs.RequestLog",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who changed configuration and through which door (admin, portal, api), for the trail.
    "audit.middleware.AuditMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a sign-in refused for a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy (Django's own middleware): scripts, styles and everything else from
# this site only, no inline script or style, no plugins, no framing. htmx and the API docs'
# Swagger UI are files under /static/; tests/e2e/test_csp.py fails on any violation.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

ROOT_URLCONF = "oncall.urls"
WSGI_APPLICATION = "oncall.wsgi.application"

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
                "oncall.context_processors.portal",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded database lives in VAR_DIR; a fresh clone has none yet.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions and a
    # busy timeout make writers queue instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Insights and reports group a quarter's pages in hash tables, which PostgreSQL's default
    # 4 MB spills to disk. Per sort or hash, per connection; empty: the server's setting.
    DATABASE_WORK_MEM = env.str("DATABASE_WORK_MEM", default="32MB")
    if DATABASE_WORK_MEM:
        db_options = DATABASES["default"].setdefault("OPTIONS", {})
        db_options["options"] = f"{db_options.get('options', '')} -c work_mem={DATABASE_WORK_MEM}"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "oncall.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# django-axes counts failed sign-ins (the login page and the admin's) per username and
# address; AXES_FAILURE_LIMIT failures within AXES_COOLOFF_TIME lock that pair out for it.
# A success clears the count. Lockouts are listed (and lifted by deleting them) in the
# admin, superusers only, or with `manage.py axes_reset[_username|_ip]`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "oncall.sso.backends.SsoBackend",  # answers only the provider's callback (below)
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failure, for the admin (superusers)
AXES_LOCKOUT_CALLABLE = "oncall.views.login_locked_out"
AXES_VERBOSE = False
# A provider's callback is not a password guess (oncall/sso/backends.py says why).
AXES_WHITELIST_CALLABLE = "oncall.sso.backends.is_sso_attempt"
# Bearer keys: this many invalid keys from one address within the window answer 429.
API_KEY_FAILURE_LIMIT = env.int("API_KEY_FAILURE_LIMIT", default=10)
API_KEY_FAILURE_WINDOW = timedelta(minutes=env.int("API_KEY_FAILURE_WINDOW_MINUTES", default=15))
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Single sign-on (OpenID Connect, mozilla-django-oidc; oncall/sso/) ------------------
# On when OIDC_RP_CLIENT_ID and either OIDC_OP_DISCOVERY_URL or the authorization and token
# endpoints are set; explicit endpoints win over the discovery document's.
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_OP_DISCOVERY_URL = env.str("OIDC_OP_DISCOVERY_URL", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT_SECONDS", default=10.0)
# The claim holding a person's groups, its values mapped to the portal's roles
# ("oncall-managers:Manager,oncall-engineers:Engineer"); unmapped people get OIDC_DEFAULT_ROLE,
# or (empty) are refused. Role names are checked at start-up (oncall/sso/checks.py).
OIDC_ROLE_CLAIM = env.str("OIDC_ROLE_CLAIM", default="groups")
OIDC_ROLE_MAP = parse_role_map(env.str("OIDC_ROLE_MAP", default=""))
OIDC_DEFAULT_ROLE = env.str("OIDC_DEFAULT_ROLE", default="")
# Off: the login page offers only single sign-on and password sign-ins (portal and admin)
# are refused.
PASSWORD_LOGIN = env.bool("PASSWORD_LOGIN", default=True)

# --- I18N / time ------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
# Third-party browser assets come from npm (package.json); `npm ci` puts them here.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/chartjs", BASE_DIR / "node_modules" / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


# --- Email ------------------------------------------------------------------------------
def mailer_from_url(url_config: dict[str, Any]) -> dict[str, Any]:
    """Turn django-environ's parsed EMAIL_URL into a Django 6.1 MAILERS entry."""
    backend = url_config["EMAIL_BACKEND"]
    options: dict[str, Any] = {}
    if backend.endswith("smtp.EmailBackend"):
        options = {
            "host": url_config.get("EMAIL_HOST") or "localhost",
            "port": url_config.get("EMAIL_PORT") or 25,
            "username": url_config.get("EMAIL_HOST_USER") or "",
            "password": url_config.get("EMAIL_HOST_PASSWORD") or "",
            "use_tls": bool(url_config.get("EMAIL_USE_TLS")),
            "use_ssl": bool(url_config.get("EMAIL_USE_SSL")),
            "timeout": 10,
        }
    elif backend.endswith("filebased.EmailBackend"):
        options = {"file_path": url_config.get("EMAIL_FILE_PATH") or str(VAR_DIR / "mail")}
    return {"BACKEND": backend, "OPTIONS": options}


MAILERS = {"default": mailer_from_url(env.email_url("EMAIL_URL", default="consolemail://"))}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="On-call portal <oncall@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery -----------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# The cache counts invalid API keys per address (oncall.api.authentication): shared by every
# web process through Redis when there is one, else per process.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# The monitoring gauges' snapshot (monitoring.gauges): written by a worker, read by every
# web process, so shared: Redis, else a file cache under VAR_DIR.
CACHES["monitoring"] = (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache" / "monitoring"),
    }
)
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT: str | None = None  # None: the URL's scheme decides
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any]
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Kombu's filesystem transport with atomic writes (oncall/broker.py): a worker never
    # reads a message file that beat is still writing.
    CELERY_BROKER_TRANSPORT = "oncall.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = broker_folders(BROKER_DIR)
else:
    # Longer than any ETA we schedule, so Redis never redelivers a waiting timer task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
# The console channel prints pages (make run); they are news, not warnings.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"

# One queue per kind of work, so a slow Slack never delays an SMS and a backlog of mail
# never delays an escalation timer.
NOTIFY_CHANNELS = ("email", "sms", "voice", "slack", "webhook", "slack_group")
CELERY_QUEUE_NAMES = ("escalation", *(f"notify-{c}" for c in NOTIFY_CHANNELS), "ingest", "default")
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name), routing_key=name) for name in CELERY_QUEUE_NAMES
)
# Every task needs a route; tests/oncall/test_celery.py fails on one that has none.
CELERY_TASK_ROUTES = {
    "oncall.heartbeat": {"queue": "default"},
    "notifications.coverage_watch": {"queue": "default"},
    # One delivery task per channel, each on its channel's queue.
    **{f"notifications.deliver.{c}": {"queue": f"notify-{c}"} for c in NOTIFY_CHANNELS},
    "notifications.sweep": {"queue": "default"},
    # The escalation engine: ETA wake-ups that drain due steps in batches, the overdue sweeper,
    # triage/cadence timers.
    "incidents.escalation_step": {"queue": "escalation"},
    "incidents.escalation_sweep": {"queue": "escalation"},
    "incidents.timers_sweep": {"queue": "default"},
    "incidents.targets_sweep": {"queue": "default"},
    # Accepted monitoring events folded into incidents, and the sweeper for lost ones.
    "incidents.ingest_process": {"queue": "ingest"},
    "incidents.ingest_drain": {"queue": "ingest"},
    "incidents.ingest_sweep": {"queue": "ingest"},
    # Heartbeat monitors (integrations) whose ping is overdue → their team's incident.
    "integrations.heartbeat_sweep": {"queue": "ingest"},
    # Once a day: each owner of overdue action items gets one digest.
    "postmortems.action_items_digest": {"queue": "default"},
    # On-call reports: drafted as shifts start; reminders and handoff pages.
    "reports.shift_start": {"queue": "default"},
    "reports.reminders": {"queue": "default"},
    "reports.shift_reminders": {"queue": "default"},
    # Customer contacts past their due time → the second tier on duty (handbook 004).
    "incidents.customer_contacts_remind": {"queue": "default"},
    # The portal watching itself: the cached gauges of /metrics and the dead-man auditor.
    "monitoring.metrics_refresh": {"queue": "default"},
    "monitoring.auditor": {"queue": "default"},
    # Interruptions' business / off / sleep kinds for the insights.
    "insights.classify_interruptions": {"queue": "default"},
}

HEARTBEAT_INTERVAL = timedelta(seconds=env.int("HEARTBEAT_INTERVAL_SECONDS", default=15))
# Beat is reported down when its heartbeat is older than this.
HEARTBEAT_MAX_AGE = HEARTBEAT_INTERVAL * 4
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "oncall.heartbeat", "schedule": HEARTBEAT_INTERVAL},
    # Every morning: tell each team's escalation contact about gaps in the next 14 days.
    "coverage-watch": {
        "task": "notifications.coverage_watch",
        "schedule": crontab(hour=8, minute=0),
    },
    # Re-queue notifications stuck in pending/sending past their deadline.
    "notifications-sweep": {
        "task": "notifications.sweep",
        "schedule": timedelta(seconds=env.int("NOTIFY_SWEEP_SECONDS", default=15)),
    },
    # Run escalation states whose ETA task was lost (killed worker, flushed Redis).
    "escalation-sweep": {
        "task": "incidents.escalation_sweep",
        "schedule": timedelta(seconds=env.int("ESCALATION_SWEEP_SECONDS", default=5)),
    },
    # Triage overdue → support managers; status updates due → the commander.
    "incidents-timers": {
        "task": "incidents.timers_sweep",
        "schedule": timedelta(seconds=env.int("INCIDENT_TIMERS_SWEEP_SECONDS", default=30)),
    },
    # Missed acknowledge/rung targets (handbook 004) → the next rung, once.
    "incidents-targets": {
        "task": "incidents.targets_sweep",
        "schedule": timedelta(seconds=env.int("INCIDENT_TARGETS_SWEEP_SECONDS", default=30)),
    },
    # Fold accepted events whose task was lost (flushed broker, dead worker) or is due a retry.
    "ingest-sweep": {
        "task": "incidents.ingest_sweep",
        "schedule": timedelta(seconds=env.int("INGEST_SWEEP_SECONDS", default=5)),
    },
    # Heartbeat monitors whose ping is overdue open an incident (a late one by ≤ this much).
    "heartbeat-monitors-sweep": {
        "task": "integrations.heartbeat_sweep",
        "schedule": timedelta(seconds=env.int("HEARTBEAT_MONITOR_SWEEP_SECONDS", default=15)),
    },
    # Every morning: one email per owner listing their overdue action items.
    "action-items-digest": {
        "task": "postmortems.action_items_digest",
        "schedule": crontab(hour=8, minute=30),
    },
    # Draft the report of every shift that has started (catching up REPORTS_CATCH_UP back).
    "reports-shift-start": {
        "task": "reports.shift_start",
        "schedule": timedelta(seconds=env.int("REPORTS_SWEEP_SECONDS", default=60)),
    },
    # Reports not submitted at shift end (and a day later); handoffs not acknowledged.
    "reports-reminders": {
        "task": "reports.reminders",
        "schedule": timedelta(seconds=env.int("REPORTS_SWEEP_SECONDS", default=60)),
    },
    # Each person's reminders before their shifts start and end (reports.ShiftReminderSetting).
    "reports-shift-reminders": {
        "task": "reports.shift_reminders",
        "schedule": timedelta(seconds=env.int("REPORTS_SWEEP_SECONDS", default=60)),
    },
    # Customer contacts past their due time: remind the second tier on duty, once per due time.
    "customer-contacts-remind": {
        "task": "incidents.customer_contacts_remind",
        "schedule": timedelta(seconds=env.int("CUSTOMER_CONTACT_SWEEP_SECONDS", default=60)),
    },
}
# The gauges of /metrics that need queries, computed and cached (monitoring.gauges).
METRICS_REFRESH_SECONDS = env.int("METRICS_REFRESH_SECONDS", default=30)
# The self-checks; the dead-man URL is pinged only when every one passes.
AUDITOR_SECONDS = env.int("AUDITOR_SECONDS", default=60)
# Interruptions written since the last run get their business / off / sleep kind.
CELERY_BEAT_SCHEDULE["insights-classify"] = {
    "task": "insights.classify_interruptions",
    "schedule": timedelta(seconds=env.int("INSIGHTS_CLASSIFY_SECONDS", default=60)),
}
CELERY_BEAT_SCHEDULE["metrics-refresh"] = {
    "task": "monitoring.metrics_refresh",
    "schedule": timedelta(seconds=METRICS_REFRESH_SECONDS),
}
CELERY_BEAT_SCHEDULE["auditor"] = {
    "task": "monitoring.auditor",
    "schedule": timedelta(seconds=AUDITOR_SECONDS),
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Notifications ----------------------------------------------------------------------
# Channel → backend class. `make run` (oncall.settings.local) prints every page to the
# console unless NOTIFY_CONSOLE=0; NOTIFY_BACKEND_<CHANNEL>=dotted.path overrides one.
_NOTIFY_REAL_BACKENDS = {
    "email": "notifications.channels.email.EmailBackend",
    "sms": "notifications.channels.twilio.TwilioSmsBackend",
    "voice": "notifications.channels.twilio.TwilioVoiceBackend",
    "slack": "notifications.channels.slack.SlackBackend",
    "webhook": "notifications.channels.webhook.WebhookBackend",
    "slack_group": "notifications.channels.slack.SlackUserGroupBackend",
}
CONSOLE_BACKEND = "notifications.channels.console.ConsoleBackend"


def notify_backends(*, console: bool) -> dict[str, str]:
    """Channel → backend path; NOTIFY_BACKEND_<CHANNEL> overrides one channel."""
    return {
        channel: env.str(
            f"NOTIFY_BACKEND_{channel.upper()}", default=CONSOLE_BACKEND if console else path
        )
        for channel, path in _NOTIFY_REAL_BACKENDS.items()
    }


# The console channel (pages printed, not sent) also turns on the dev outbox page.
NOTIFY_CONSOLE = env.bool("NOTIFY_CONSOLE", default=False)
NOTIFY_BACKENDS = notify_backends(console=NOTIFY_CONSOLE)
# The Slack Web API (a local peer in tests) and the bot token that sets the on-call user
# groups (usergroups:write); empty: those updates fail visibly on the outbox.
SLACK_API_URL = env.str("SLACK_API_URL", default="https://slack.com/api")
SLACK_BOT_TOKEN = env.str("SLACK_BOT_TOKEN", default="")
# Handbook 004: new support incidents are posted to the support channel (#support) through
# this Slack incoming webhook; empty: no post.
SUPPORT_SLACK_WEBHOOK_URL = env.str("SUPPORT_SLACK_WEBHOOK_URL", default="")
TWILIO_BASE_URL = env.str("TWILIO_BASE_URL", default="https://api.twilio.com")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM = env.str("TWILIO_FROM", default="")
# Signs generic webhooks sent with neither a row secret (a webhook subscription's) nor a
# contact method (each has its own secret).
NOTIFY_WEBHOOK_SECRET = env.str("NOTIFY_WEBHOOK_SECRET", default="")
NOTIFY_HTTP_TIMEOUT = env.float("NOTIFY_HTTP_TIMEOUT", default=10.0)
# User-given URLs (webhooks, Slack hooks; notifications/outbound.py): https only unless
# OUTBOUND_ALLOW_HTTP, and never a loopback, private, link-local, metadata… address unless
# it lies in OUTBOUND_ALLOWED_NETWORKS (CIDRs). Names are resolved at save for at most
# OUTBOUND_RESOLVE_TIMEOUT seconds; the check when sending decides.
OUTBOUND_ALLOW_HTTP = env.bool("OUTBOUND_ALLOW_HTTP", default=False)
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", default=[])
OUTBOUND_RESOLVE_TIMEOUT = env.float("OUTBOUND_RESOLVE_TIMEOUT", default=2.0)
OUTBOUND_CA_BUNDLE = env.str("OUTBOUND_CA_BUNDLE", default="")  # empty: certifi's CAs
ACK_LINK_MAX_AGE = timedelta(hours=env.int("ACK_LINK_MAX_AGE_HOURS", default=24))
# Verification codes (notifications/services/contacts.py), counted per person and address
# over the last 24 hours, so removing and re-adding a method resets nothing: a new code to
# a method at most once per VERIFY_RESEND_INTERVAL and VERIFY_MAX_CODES_PER_DAY times; at
# most VERIFY_MAX_NEW_ADDRESSES_PER_DAY addresses sent a code, and at most
# VERIFY_MAX_UNVERIFIED_METHODS unverified methods held at once.
VERIFY_RESEND_INTERVAL = timedelta(seconds=env.int("VERIFY_RESEND_INTERVAL_SECONDS", default=60))
VERIFY_MAX_CODES_PER_DAY = env.int("VERIFY_MAX_CODES_PER_DAY", default=5)
VERIFY_MAX_NEW_ADDRESSES_PER_DAY = env.int("VERIFY_MAX_NEW_ADDRESSES_PER_DAY", default=10)
VERIFY_MAX_UNVERIFIED_METHODS = env.int("VERIFY_MAX_UNVERIFIED_METHODS", default=10)
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=5)
NOTIFY_RETRY_BASE_DELAY = timedelta(seconds=env.float("NOTIFY_RETRY_BASE_SECONDS", default=10))
NOTIFY_RETRY_MAX_DELAY = timedelta(seconds=env.float("NOTIFY_RETRY_MAX_SECONDS", default=600))
NOTIFY_RETRY_AFTER_MAX = timedelta(
    seconds=env.float("NOTIFY_RETRY_AFTER_MAX_SECONDS", default=3600)
)
# A row still pending this long after it was due, or sending this long, is swept again.
NOTIFY_PENDING_GRACE = timedelta(seconds=env.float("NOTIFY_PENDING_GRACE_SECONDS", default=60))
NOTIFY_SENDING_TIMEOUT = timedelta(seconds=env.float("NOTIFY_SENDING_TIMEOUT_SECONDS", default=120))
# Storm control: at most one message per this many seconds to one address, per channel; that
# message carries every page pending for the address (notifications/services/storm.py).
NOTIFY_MIN_INTERVAL = {
    "email": env.int("NOTIFY_MIN_INTERVAL_EMAIL", default=0),
    "sms": env.int("NOTIFY_MIN_INTERVAL_SMS", default=30),
    "voice": env.int("NOTIFY_MIN_INTERVAL_VOICE", default=60),
    "slack": env.int("NOTIFY_MIN_INTERVAL_SLACK", default=0),
    "webhook": env.int("NOTIFY_MIN_INTERVAL_WEBHOOK", default=0),
}
# Storm control: a message also carries pages to its address due within this many seconds
# after it (a rule's delay ending just after the slot). Pages already due always travel.
NOTIFY_BUNDLE_WINDOW = {
    "email": env.int("NOTIFY_BUNDLE_WINDOW_EMAIL", default=0),
    "sms": env.int("NOTIFY_BUNDLE_WINDOW_SMS", default=60),
    "voice": env.int("NOTIFY_BUNDLE_WINDOW_VOICE", default=60),
    "slack": env.int("NOTIFY_BUNDLE_WINDOW_SLACK", default=0),
    "webhook": env.int("NOTIFY_BUNDLE_WINDOW_WEBHOOK", default=0),
}

# --- Rotations --------------------------------------------------------------------------
# Overrides longer than this are refused for everyone but Managers (issue 13).
OVERRIDE_MAX_DAYS = env.int("OVERRIDE_MAX_DAYS", default=90)

# --- Incidents --------------------------------------------------------------------------
ESCALATION_SWEEP_SECONDS = env.int("ESCALATION_SWEEP_SECONDS", default=5)
INCIDENT_TIMERS_SWEEP_SECONDS = env.int("INCIDENT_TIMERS_SWEEP_SECONDS", default=30)
# Handbook 000: no answer within 10 minutes, page the next person on the veteran list
# (used when a team has no "Engage development" policy of its own).
ENGAGE_WALK_WAIT_SECONDS = env.int("ENGAGE_WALK_WAIT_SECONDS", default=600)
# Read only by the data migration rotations/0005 (teams now name their policies).
ENGAGE_VETERAN_POLICY = env.str("ENGAGE_VETERAN_POLICY", default="Engage development")
ENGAGE_NEW_TIER_POLICY = env.str("ENGAGE_NEW_TIER_POLICY", default="New tier (paged once)")
# Handbook 004: triage within 30 minutes (when a severity has no policy row).
TRIAGE_TARGET_DEFAULT = timedelta(minutes=env.int("TRIAGE_TARGET_MINUTES", default=30))
# The ticket tracker's link for a key ("{key}" is replaced: MCT-123); empty: no link.
TICKET_URL_TEMPLATE = env.str("TICKET_URL_TEMPLATE", default="")
# Company-wide status updates go here as well as to the team's announcement address.
COMPANY_STATUS_EMAIL = env.str("COMPANY_STATUS_EMAIL", default="")
# Security incidents are emailed here at once (and paged to the "Security owners" group).
SECURITY_OWNER_EMAIL = env.str("SECURITY_OWNER_EMAIL", default="")

# --- Postmortems ------------------------------------------------------------------------
# Published postmortems of severities that say so go here; empty: COMPANY_STATUS_EMAIL.
POSTMORTEM_EMAIL = env.str("POSTMORTEM_EMAIL", default="")
# The weekly postmortem review: ISO weeks run Monday 00:00 to Monday 00:00 in this zone, and
# the recurring meeting (its iCal file) is at this weekday and wall-clock time there.
COMPANY_TIME_ZONE = env.str("COMPANY_TIME_ZONE", default="America/New_York")
if COMPANY_TIME_ZONE not in _zoneinfo.available_timezones():
    raise ImproperlyConfigured(
        f"COMPANY_TIME_ZONE={COMPANY_TIME_ZONE!r} is not a known IANA zone "
        "(for example America/New_York)."
    )
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_weekday = env.str("REVIEW_MEETING_WEEKDAY", default="thursday").strip().lower()
if _weekday not in _WEEKDAYS:
    raise ImproperlyConfigured(
        f"REVIEW_MEETING_WEEKDAY={_weekday!r} is not a weekday name (monday … sunday)."
    )
REVIEW_MEETING_WEEKDAY = _WEEKDAYS.index(_weekday)  # Monday is 0, as date.weekday() counts
try:
    REVIEW_MEETING_TIME = _time.fromisoformat(env.str("REVIEW_MEETING_TIME", default="15:00"))
except ValueError as error:
    raise ImproperlyConfigured(f"REVIEW_MEETING_TIME is not a time like 15:00: {error}") from None
REVIEW_MEETING_MINUTES = env.int("REVIEW_MEETING_MINUTES", default=60)
if not 1 <= REVIEW_MEETING_MINUTES <= 24 * 60:
    raise ImproperlyConfigured("REVIEW_MEETING_MINUTES must be between 1 and 1440.")

# --- On-call reports --------------------------------------------------------------------
# The shift-start task drafts reports of shifts that started this far back (a missed beat,
# a restart), and pages a handoff not acknowledged within this window of the shift start.
REPORTS_CATCH_UP = timedelta(hours=env.int("REPORTS_CATCH_UP_HOURS", default=24))
# A report not submitted at shift end is reminded once; a second reminder (and the team's
# escalation contact) this long after; shifts that ended longer ago than the window are left.
REPORTS_SECOND_REMINDER = timedelta(hours=env.int("REPORTS_SECOND_REMINDER_HOURS", default=24))
REPORTS_REMINDER_WINDOW = timedelta(days=env.int("REPORTS_REMINDER_WINDOW_DAYS", default=7))
# The incoming on-call is paged (low urgency) when the handoff is not acknowledged by then.
HANDOFF_ACK_MINUTES = env.int("HANDOFF_ACK_MINUTES", default=60)

# --- Ingestion --------------------------------------------------------------------------
# Events accepted per integration key per minute (an integration may override it); more
# are answered 429 with Retry-After and counted on the integration.
INGEST_RATE_LIMIT_PER_MINUTE = env.int("INGEST_RATE_LIMIT_PER_MINUTE", default=600)
# The ingest doors' Redis: rate counts (INCR + EXPIRE) and the fold wake-up flag (one drain
# task for a burst of events). Unset: counts in the database (IngestWindow rows), and every
# accepted event sends its own fold task.
INGEST_REDIS_URL = env.str("INGEST_REDIS_URL", default=REDIS_URL)
# PagerDuty refuses events over 512 KB; so does /v2/enqueue (and the Alertmanager receiver).
INGEST_MAX_BODY_BYTES = env.int("INGEST_MAX_BODY_BYTES", default=512 * 1024)
# Accepted events are stored (InboundEvent) and answered 202; `incidents.ingest_process` on
# the `ingest` queue folds them into incidents. INGEST_INLINE folds in the request instead
# (same code path; the test settings use it for the wire-format tests).
INGEST_INLINE = env.bool("INGEST_INLINE", default=False)
# The doors cache key → integration per process this long (0: no cache); a rotated key or
# a changed integration is seen by other processes within it.
INGEST_KEY_CACHE_SECONDS = env.float("INGEST_KEY_CACHE_SECONDS", default=5.0)
# The sweeper (beat, every INGEST_SWEEP_SECONDS) folds events still pending this long after
# they arrived (lost task, flushed broker, dead worker) and failed events due a retry.
INGEST_SWEEP_GRACE = timedelta(seconds=env.float("INGEST_SWEEP_GRACE_SECONDS", default=10))
# A failing event is retried with exponential backoff, then given up (kept, shown in the
# admin's "failed" filter, retried from there) so later events of its key go on.
INGEST_MAX_ATTEMPTS = env.int("INGEST_MAX_ATTEMPTS", default=8)
INGEST_RETRY_BASE_DELAY = timedelta(seconds=env.float("INGEST_RETRY_BASE_SECONDS", default=5))
INGEST_RETRY_MAX_DELAY = timedelta(seconds=env.float("INGEST_RETRY_MAX_SECONDS", default=600))
# Processed events are deleted by the sweeper after this many days.
INGEST_KEEP_PROCESSED = timedelta(days=env.int("INGEST_KEEP_PROCESSED_DAYS", default=7))

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Keys first: a request with a bad key gets 401; session writes still need a CSRF token.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oncall.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["oncall.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "oncall.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
# The OpenAPI schema and its docs page answer only people signed in (a session or an API
# key) unless API_SCHEMA_PUBLIC (read per request): the schema maps every door.
API_SCHEMA_PUBLIC = env.bool("API_SCHEMA_PUBLIC", default=False)
SPECTACULAR_SETTINGS = {
    "SERVE_PERMISSIONS": ["oncall.api.permissions.SchemaAccess"],
    "TITLE": "On-call portal API",
    "DESCRIPTION": "Incidents, on-call rotations and escalation. Authenticate with a personal "
    "API key (`Authorization: Bearer <key>`, from POST /api/v1/keys/) or a browser session. "
    'Every error is `{"error": {"code", "message", "fields"}}`.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.models.Status",
        "NotificationStatusEnum": "notifications.models.Status",
        "SeverityEnum": "incidents.models.Severity",
        "SeverityOrAliasEnum": "incidents.api.serializers.SEVERITY_INPUT_CHOICES",
        "ContactModeEnum": "rotations.models.ContactMode",
        "ChannelEnum": "notifications.models.Channel",
        "KindEnum": "rotations.models.OverrideRequestKind",  # its name before ActionItemKind
        "PostmortemStatusEnum": "postmortems.models.PostmortemStatus",
        "ActionItemStatusEnum": "postmortems.models.ActionItemStatus",
        "ActionItemKindEnum": "postmortems.models.ActionItemKind",
        "ActionItemPriorityEnum": "postmortems.models.ActionItemPriority",
        "CustomerContactChannelEnum": "incidents.models.ContactChannel",
        "ActionEnum": "rotations.models.StepAction",  # its name before the audit trail's
        "AuditActionEnum": "audit.api.AUDIT_ACTIONS",
        "AuditViaEnum": "audit.models.Via",
    },
}


# --- Logging ----------------------------------------------------------------------------
def logging_config(log_format: str) -> dict[str, Any]:
    """Django's LOGGING for LOG_FORMAT `json` (one JSON object per line, oncall/logs.py) or
    `plain` (text for a terminal)."""
    if log_format not in ("json", "plain"):
        raise ImproperlyConfigured(f"LOG_FORMAT={log_format!r} must be json or plain.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json": {"()": "oncall.logs.JsonFormatter"},
        },
        # Integration keys and feed/ack tokens in paths are cut to their prefix
        # (oncall/logmask.py): on the loggers that print paths (before they propagate) and on
        # our handler. `log_context` adds the request's or task's ids (oncall/logs.py).
        "filters": {
            "mask_secrets": {"()": "oncall.logmask.MaskSecrets"},
            "log_context": {"()": "oncall.logs.LogContext"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["mask_secrets", "log_context"],
            }
        },
        "loggers": {
            "django.request": {"filters": ["mask_secrets"]},
            # runserver's request lines (`make run`): Django gives this logger its own handler
            # and propagate False, and configuring it here drops that handler, so name ours.
            "django.server": {
                "handlers": ["console"],
                "filters": ["mask_secrets"],
                "level": "INFO",
                "propagate": False,
            },
            # httpx logs each request's full URL at INFO: a Slack or webhook URL is a secret.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
        "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    }


# `json` in production (oncall/settings/production.py), plain text on a laptop and in tests.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = logging_config(LOG_FORMAT)

# --- Monitoring -------------------------------------------------------------------------
# /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; unset, it answers 404 (open only
# with DEBUG on). PROMETHEUS_MULTIPROC_DIR (read by prometheus_client itself) shares the
# counters of every web and worker process on a host.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# An outside monitor's URL, GET every AUDITOR_SECONDS while every self-check passes.
DEADMAN_URL = env.str("DEADMAN_URL", default="")
DEADMAN_TIMEOUT = env.float("DEADMAN_TIMEOUT", default=5.0)

# --- Audit trail (django-auditlog; what is recorded: audit/registry.py) -------------------
AUDITLOG_LOGENTRY_MODEL = "audit.AuditEntry"
# auditlog's own migrations create its LogEntry table even when the model is swapped for
# ours: an unused table with a foreign key to the users, which also stops `flush` (the
# browser and worker tests) from emptying them. Unmigrated, its swapped model gets no table.
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_STORE_JSON_CHANGES = True  # numbers, booleans and null stay JSON values
AUDITLOG_DISABLE_ON_RAW_SAVE = True  # fixtures and loaddata are not someone's change
