"""`manage.py backup [--output PATH]`: a consistent dump of the database (oncall/backup.py)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oncall.backup import BackupError, database_backup


class Command(BaseCommand):
    help = (
        "Write a consistent backup of the database: pg_dump's custom format on PostgreSQL, "
        "the online backup API on SQLite. Default: VAR_DIR/backups/oncall-<UTC time>.*"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            help="file to write (must not exist) or a folder to write a timestamped file in",
        )
        parser.add_argument("--database", default="default", help="database alias")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path = database_backup(output=options["output"], using=options["database"])
        except BackupError as error:
            raise CommandError(str(error)) from None
        size = path.stat().st_size
        self.stdout.write(f"{path} {size} bytes ({size / 1_048_576:.1f} MiB)")
