"""Test settings: SQLite and the in-memory broker unless DATABASE_URL/REDIS_URL are set."""

from oncall.settings.base import *  # noqa: F403
from oncall.settings.base import (
    DATABASES,
    REDIS_URL,
    STORAGES,
    env,
    mailer_from_url,
)

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
if env.str("TEST_EMAIL_URL", default=""):  # a real worker started by a test mails a local SMTP
    MAILERS = {"default": mailer_from_url(env.email_url("TEST_EMAIL_URL"))}
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if not env.str("DATABASE_URL", default=""):
    DATABASES["default"]["NAME"] = ":memory:"
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
# Tests talk to Redis only where they ask for it (the celery_worker fixture points both the
# test process and the worker it starts at Redis); everything else uses the memory transport.
CELERY_BROKER_URL = env.str("TEST_CELERY_BROKER_URL", default="memory://")
CELERY_BROKER_TRANSPORT = None  # the URL decides (base chose the embedded file transport)
CELERY_BROKER_TRANSPORT_OPTIONS = {}
TEST_REDIS_URL = REDIS_URL
# Ingestion stores and answers, and a worker folds later, as in production; a test that
# needs the fold in the request (and says why) sets INGEST_INLINE itself.
INGEST_INLINE = False
# Serve static files from the finders (npm's htmx included) without a collectstatic run.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# The tests' HTTP peers (pytest-httpserver) listen on http://127.0.0.1; tests of the
# outbound address rule empty this list to see the production default.
OUTBOUND_ALLOW_HTTP = True
OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
# Each test process counts sign-in and API key failures in memory (tests clear it).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "monitoring": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}
# The schemathesis tests load the schema at import, before any API key exists, so the test
# process serves it publicly; tests/api/test_schema.py checks the signed-in default.
API_SCHEMA_PUBLIC = True
