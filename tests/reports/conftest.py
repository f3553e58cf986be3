"""Reports: the handbooks' Core team (tests/incidents), a real SMTP server, roles."""

from tests.incidents.conftest import Core, core  # noqa: F401 (a fixture)
from tests.notifications.conftest import (  # noqa: F401 (fixtures)
    real_channels,
    sent_tasks,
    smtp_mailer,
    smtp_server,
)
from tests.postmortems.conftest import email_over_smtp, people  # noqa: F401

__all__ = ["Core"]
