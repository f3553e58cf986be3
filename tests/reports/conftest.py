"""Reports: the handbooks' Core team (tests/incidents), a real SMTP server, roles."""

from tests.incidents.conftest import Core, core  # noqa: F401 (a fixture)
from tests.notifications.conftest import smtp_mailer, smtp_server  # noqa: F401
from tests.postmortems.conftest import email_over_smtp, people  # noqa: F401

__all__ = ["Core"]
