"""Seed demo data: people first, then whatever each app adds (AppConfig.demo_seed)."""

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from oncall.demo import DEMO_PASSWORD, PEOPLE, seed_people


class Command(BaseCommand):
    help = "Create or refresh the demo people, teams and rotations (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        users = seed_people()
        # Apps above the core name a seeding function in their AppConfig, so this command
        # never imports them directly (apps depend downward only).
        for config in apps.get_app_configs():
            path = getattr(config, "demo_seed", None)
            if path:
                import_string(path)(users=users)
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready. Every demo password is '{DEMO_PASSWORD}':")
        )
        for person in PEOPLE:
            self.stdout.write(f"  {person.username:<10} {person.what}")
