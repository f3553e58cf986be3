"""`manage.py backup` on a big database: time and size of the dump, and of its restore.

Builds bench/insights.py's history (100,000 incidents, 1,000,000 notifications, bulk SQL) in a
throwaway test database next to DATABASE_URL's (PostgreSQL), takes a backup with the
command's code (pg_dump custom format) and restores it into a scratch database with
pg_restore, printing seconds and megabytes, and checks the restored incident count.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oncall_bench_backup \\
        .venv/bin/python bench/backup.py [incidents=100000]
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "oncall.settings.test"


def main(incidents: int = 100_000) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL (PostgreSQL)")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    from bench.insights import build
    from incidents.models import Incident
    from notifications.models import Notification
    from oncall.backup import database_backup

    old = setup_databases(verbosity=0, interactive=False)
    scratch = f"{connection.settings_dict['NAME']}_restore"
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db["PASSWORD"] or ""}
    libpq = ["-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"]]
    try:
        build(incidents)
        counts = (Incident.objects.count(), Notification.objects.count())
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            dump = database_backup(output=Path(folder) / "bench.dump")
            dumped = time.perf_counter() - started
            size = dump.stat().st_size / 1_048_576
            subprocess.run(["createdb", *libpq, scratch], env=env, check=True)
            started = time.perf_counter()
            subprocess.run(
                ["pg_restore", "--no-owner", "--exit-on-error", *libpq, "-d", scratch, str(dump)],
                env=env,
                check=True,
            )
            restored = time.perf_counter() - started
        count = subprocess.run(
            ["psql", *libpq, "-d", scratch, "-Atc", "SELECT count(*) FROM incidents_incident"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        print(f"\n{counts[0]:,} incidents, {counts[1]:,} notifications")
        print(f"backup  {dumped:7.1f} s  {size:7.1f} MiB (pg_dump --format=custom)")
        print(f"restore {restored:7.1f} s  (pg_restore into a fresh database)")
        print(f"restored incidents: {int(count):,} (same: {int(count) == counts[0]})")
    finally:
        subprocess.run(["dropdb", "--if-exists", *libpq, scratch], env=env, check=False)
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    arguments = dict(arg.split("=", 1) for arg in sys.argv[1:])
    main(**{key: int(value) for key, value in arguments.items()})
