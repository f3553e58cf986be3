"""PostgreSQL connections ask for DATABASE_WORK_MEM (32 MB by default): insights and reports
hash a quarter's pages, which the server's default 4 MB spills to disk."""

import pytest
from django.conf import settings
from django.db import connection


@pytest.mark.django_db
def test_connections_use_the_configured_work_mem() -> None:
    if connection.vendor != "postgresql":
        assert "options" not in settings.DATABASES["default"].get("OPTIONS", {})
        return
    assert settings.DATABASE_WORK_MEM == "32MB"
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone() == ("32MB",)
