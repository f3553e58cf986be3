"""Laptop settings for `make run`: a throwaway secret key, pages to the console, debug off.

`make run` is also how a single machine is deployed, so DEBUG is off unless `DEBUG=1`:
no URL patterns or settings on an error page. Static files are then served by WhiteNoise
from `STATIC_ROOT` with hashed names (`make run` collects them before starting); with
`DEBUG=1` they come straight from the source folders as before.
"""

from oncall.settings.base import *  # noqa: F403
from oncall.settings.base import env, notify_backends

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-local-development-key-never-use-in-production")
# Pages go to the terminal and the dev outbox page, not to real phones.
NOTIFY_CONSOLE = env.bool("NOTIFY_CONSOLE", default=True)
NOTIFY_BACKENDS = notify_backends(console=NOTIFY_CONSOLE)
# A laptop may try a webhook receiver on http://; private addresses stay refused unless
# OUTBOUND_ALLOWED_NETWORKS names them.
OUTBOUND_ALLOW_HTTP = env.bool("OUTBOUND_ALLOW_HTTP", default=True)
