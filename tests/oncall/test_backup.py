"""Backups (issue 18 point 7): a dump restored into a fresh database holds the same incidents;
a SQLite backup taken while another connection writes is one consistent snapshot; pg_dump gets
its password from the environment, never its arguments; bad input is a clear CommandError."""

import os
import sqlite3
import stat
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from incidents.models import Incident
from oncall.backup import BackupError, postgres_dump, sqlite_backup
from tests.factories import IncidentFactory


def _incidents() -> list[tuple[int, str, str, str]]:
    return list(Incident.objects.order_by("id").values_list("id", "title", "severity", "status"))


@pytest.fixture
def scratch_postgres() -> Iterator[str]:
    """An empty database beside the test database, dropped afterwards."""
    settings_dict = connection.settings_dict
    name = f"backup_restore_{uuid.uuid4().hex[:12]}"
    admin: dict[str, Any] = {
        "host": settings_dict["HOST"] or None,
        "port": settings_dict["PORT"] or None,
        "user": settings_dict["USER"] or None,
        "password": settings_dict["PASSWORD"] or None,
        "dbname": "postgres",
    }
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_postgres_dump_restores_into_a_fresh_database_with_the_same_incidents(
    postgres: None, transactional_db: None, scratch_postgres: str, tmp_path: Path, capsys
) -> None:
    IncidentFactory.create_batch(3)
    expected = _incidents()
    output = tmp_path / "portal.dump"

    call_command("backup", output=output)

    assert f"{output} " in capsys.readouterr().out
    settings_dict = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": settings_dict["PASSWORD"] or ""}
    subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            "--exit-on-error",
            "--host",
            settings_dict["HOST"],
            "--port",
            str(settings_dict["PORT"]),
            "--username",
            settings_dict["USER"],
            "--dbname",
            scratch_postgres,
            str(output),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    with psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname=scratch_postgres,
    ) as restored:
        rows = restored.execute(
            f"SELECT id, title, severity, status FROM {Incident._meta.db_table} ORDER BY id"
        ).fetchall()
    assert [tuple(row) for row in rows] == expected
    assert len(expected) == 3


def test_a_sqlite_backup_holds_the_same_incidents(
    db: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite path; the PostgreSQL one is tested above")
    IncidentFactory.create_batch(3)
    expected = _incidents()

    call_command("backup", output=tmp_path)

    (written,) = tmp_path.glob("oncall-*.sqlite3")
    assert str(written) in capsys.readouterr().out
    with sqlite3.connect(written) as copy:
        rows = copy.execute(
            f"SELECT id, title, severity, status FROM {Incident._meta.db_table} ORDER BY id"
        ).fetchall()
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert rows == expected


def test_a_sqlite_backup_taken_while_another_thread_writes_is_one_snapshot(
    tmp_path: Path,
) -> None:
    """Each write transaction adds a pair of rows; a torn copy would hold half a pair."""
    source = tmp_path / "live.sqlite3"
    with sqlite3.connect(source) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE pair (txn INTEGER, half INTEGER, filler TEXT)")
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        live = sqlite3.connect(source, timeout=20, isolation_level=None)
        while not stop.is_set():
            live.execute("BEGIN IMMEDIATE")
            txn = written[0] + 1
            for half in (1, 2):
                live.execute("INSERT INTO pair VALUES (?, ?, ?)", (txn, half, "x" * 2000))
            live.execute("COMMIT")
            written[0] = txn
        live.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 200:  # enough pages that a copy takes several steps
            stop.wait(0.01)
        copies = []
        for n in range(5):
            copies.append(tmp_path / f"copy{n}.sqlite3")
            sqlite_backup(source, copies[-1])
    finally:
        stop.set()
        thread.join()

    for copy in copies:
        with sqlite3.connect(copy) as check:
            assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            halves = check.execute(
                "SELECT count(*) FROM pair GROUP BY txn HAVING count(*) != 2"
            ).fetchall()
            count = check.execute("SELECT count(DISTINCT txn) FROM pair").fetchone()[0]
        assert halves == []
        assert count >= 200


def test_pg_dump_gets_the_password_from_the_environment_not_its_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in pg_dump records what it was given (argv is visible to every user in ps)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    seen = tmp_path / "seen"
    fake = bin_dir / "pg_dump"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {seen}.argv\n'
        f'printf %s "$PGPASSWORD" > {seen}.password\n'
        f'printf %s "$PGSSLMODE" > {seen}.sslmode\n'
        'while [ "$1" != "--file" ]; do shift; done; echo dump > "$2"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bin_dir))
    output = tmp_path / "out.dump"

    postgres_dump(
        {
            "NAME": "oncall",
            "USER": "oncall",
            "PASSWORD": "s3cret-pass",
            "HOST": "db.internal",
            "PORT": 5433,
            "OPTIONS": {"sslmode": "require"},
        },
        output,
    )

    argv = Path(f"{seen}.argv").read_text()
    assert "s3cret-pass" not in argv
    assert "--format=custom" in argv
    assert "--dbname oncall" in argv
    assert "--port 5433" in argv
    assert Path(f"{seen}.password").read_text() == "s3cret-pass"
    assert Path(f"{seen}.sslmode").read_text() == "require"
    assert output.read_text() == "dump\n"


def test_a_missing_pg_dump_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(BackupError, match="pg_dump was not found on PATH"):
        postgres_dump({"NAME": "oncall"}, tmp_path / "out.dump")


def test_a_failing_pg_dump_names_its_reason_and_leaves_no_file(
    db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("runs pg_dump against the test database")
    monkeypatch.setitem(connection.settings_dict, "NAME", "no_such_database_here")
    output = tmp_path / "out.dump"

    with pytest.raises(CommandError, match=r"pg_dump failed: .*no_such_database_here"):
        call_command("backup", output=output)

    assert list(tmp_path.iterdir()) == []


def test_the_default_output_is_timestamped_under_var_dir(db: None, tmp_path: Path) -> None:
    with (
        override_settings(VAR_DIR=tmp_path),
        time_machine.travel(datetime(2026, 12, 2, 9, 30, 5, tzinfo=UTC), tick=False),
    ):
        call_command("backup")

    suffix = "dump" if connection.vendor == "postgresql" else "sqlite3"
    written = (tmp_path / "backups" / f"oncall-20261202T093005Z.{suffix}").stat()
    assert written.st_size > 0
    assert stat.S_IMODE(written.st_mode) == 0o600  # contact details and key hashes: owner only


def test_an_existing_output_is_refused_and_kept(db: None, tmp_path: Path) -> None:
    output = tmp_path / "precious.dump"
    output.write_text("keep me")

    with pytest.raises(CommandError, match="already exists"):
        call_command("backup", output=output)

    assert output.read_text() == "keep me"


def test_an_unknown_database_alias_is_a_clear_error(db: None) -> None:
    with pytest.raises(CommandError, match="no database called 'nope'"):
        call_command("backup", database="nope")
