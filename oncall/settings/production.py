"""Production settings: refuse to start without a secret key; secure cookies and HSTS."""

from django.core.exceptions import ImproperlyConfigured

from oncall.settings.base import *  # noqa: F403
from oncall.settings.base import SECRET_KEY, env, logging_config, mailer_from_url

if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set in production (DJANGO_SETTINGS_MODULE=oncall.settings.production)."
    )

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Pages must leave the building: production mails through SMTP, never the console.
MAILERS = {"default": mailer_from_url(env.email_url("EMAIL_URL", default="smtp://localhost:25"))}

# One JSON object per log line, for a log shipper (LOG_FORMAT=plain for a terminal).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = logging_config(LOG_FORMAT)
