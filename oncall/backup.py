"""Consistent backups of the portal's database (issue 18 point 7).

PostgreSQL: `pg_dump --format=custom` (one snapshot of the whole database, restored with
`pg_restore`). SQLite: the online backup API, which copies a consistent snapshot while web,
worker and beat keep writing in WAL mode. The dump is written beside its final name and
renamed into place, so a failed or interrupted backup never leaves a file that looks whole.
The password reaches pg_dump through `PGPASSWORD`, never its argument list (`ps` shows that).
"""

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone


class BackupError(Exception):
    """A backup that could not be written; the message says why, for the operator."""


# connection settings → libpq's environment (https://www.postgresql.org/docs/current/libpq-envars.html)
_PG_OPTION_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


def default_output(*, vendor: str, now: datetime | None = None) -> Path:
    """VAR_DIR/backups/oncall-<UTC timestamp>.<dump|sqlite3>."""
    stamp = (now or timezone.now()).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "dump" if vendor == "postgresql" else "sqlite3"
    return Path(settings.VAR_DIR) / "backups" / f"oncall-{stamp}.{suffix}"


def database_backup(*, output: Path | None = None, using: str = "default") -> Path:
    """Write a consistent dump of the database `using` to `output` (default: timestamped
    under VAR_DIR/backups) and return its path. Raises BackupError with a clear reason."""
    if using not in settings.DATABASES:
        raise BackupError(f"no database called {using!r} in DATABASES")
    connection = connections[using]
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise BackupError(f"cannot back up a {vendor} database (PostgreSQL or SQLite only)")
    target = _target(output, vendor=vendor)
    if vendor == "postgresql":
        _write_atomically(target, lambda part: postgres_dump(connection.settings_dict, part))
    else:
        _write_atomically(target, lambda part: _sqlite_backup_connection(connection, part))
    return target


def _target(output: Path | None, *, vendor: str) -> Path:
    if output is None:
        target = default_output(vendor=vendor)
    elif output.is_dir():
        target = output / default_output(vendor=vendor).name
    else:
        target = output
    if target.exists():
        raise BackupError(f"{target} already exists; choose another --output")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BackupError(f"cannot create {target.parent}: {error.strerror}") from None
    return target


def _write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as error:
        raise BackupError(f"cannot write in {target.parent}: {error.strerror}") from None
    os.close(handle)
    part = Path(name)
    try:
        write(part)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def postgres_dump(settings_dict: dict[str, Any], output: Path) -> None:
    """`pg_dump --format=custom` of the database `settings_dict` describes into `output`."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError(
            "pg_dump was not found on PATH: install the PostgreSQL client tools "
            "(e.g. `apt install postgresql-client`), of the server's major version or newer"
        )
    env = {**os.environ}
    argv = [pg_dump, "--format=custom", "--no-password", "--file", str(output)]
    for option, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if settings_dict.get(key):
            argv += [option, str(settings_dict[key])]
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    for option, variable in _PG_OPTION_ENV.items():
        value = (settings_dict.get("OPTIONS") or {}).get(option)
        if value is not None:
            env[variable] = str(value)
    argv += ["--dbname", str(settings_dict["NAME"])]
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603 (argv from settings, no shell)
    except OSError as error:
        raise BackupError(f"could not run {pg_dump}: {error.strerror}") from None
    if done.returncode != 0:
        reason = done.stderr.strip() or f"exit status {done.returncode}"
        raise BackupError(f"pg_dump failed: {reason}")


def sqlite_backup(source: Path, output: Path) -> None:
    """Copy the SQLite database file `source` (WAL or not) into `output` with the online
    backup API: one consistent snapshot, while other processes keep writing."""
    if not source.exists():
        raise BackupError(f"the SQLite database {source} does not exist")
    reader = sqlite3.connect(source, timeout=20)
    try:
        _sqlite_copy(reader, output)
    finally:
        reader.close()


def _sqlite_backup_connection(connection: Any, output: Path) -> None:
    if connection.is_in_memory_db():
        # The test settings' database, shared-cache in memory: its own connection holds the
        # open test transaction, so the backup API would wait on it; copy its pages instead.
        connection.ensure_connection()
        snapshot = sqlite3.connect(":memory:")
        try:
            snapshot.deserialize(connection.connection.serialize())
            _sqlite_copy(snapshot, output)
        finally:
            snapshot.close()
    else:
        sqlite_backup(Path(connection.settings_dict["NAME"]), output)


def _sqlite_copy(reader: sqlite3.Connection, output: Path) -> None:
    writer = sqlite3.connect(output)
    try:
        # pages=-1 (the default) copies every page in one step under one read snapshot.
        reader.backup(writer)
        writer.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    except sqlite3.Error as error:
        raise BackupError(f"SQLite backup failed: {error}") from None
    finally:
        writer.close()
