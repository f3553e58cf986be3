"""The portal's user and the worker heartbeat."""

import zoneinfo
from typing import ClassVar

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models

from oncall.validators import (
    normalize_e164,
    validate_e164,
    validate_slack_user_id,
    validate_timezone,
)


class User(AbstractUser):
    """A person in the portal: support, engineer or manager (their role groups say which)."""

    display_name = models.CharField(
        max_length=150,
        blank=True,
        help_text="How the portal names this person; defaults to the full name.",
    )
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text="IANA timezone, e.g. America/New_York; shifts and pages are shown in it.",
    )
    phone = models.CharField(
        max_length=16,
        blank=True,
        validators=[validate_e164],
        help_text="E.164 phone number, e.g. +14155552671.",
    )
    slack_user_id = models.CharField(
        max_length=21,
        blank=True,
        db_default="",  # rows written by code from before the column still insert
        validators=[validate_slack_user_id],
        help_text="Slack member id (U…), so the team's on-call Slack group can name them.",
    )

    REQUIRED_FIELDS: ClassVar[list[str]] = ["email"]

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ("username",)

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def clean(self) -> None:
        super().clean()
        if self.phone:
            try:
                self.phone = normalize_e164(self.phone)
            except ValidationError as error:
                raise ValidationError({"phone": error.messages}) from error


class Heartbeat(models.Model):
    """Last time a periodic process proved it is alive (beat schedules, a worker runs it)."""

    name = models.CharField(max_length=50, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.at.isoformat()}"


class ApiKey(models.Model):
    """A personal API key: the owner's role, sent as `Authorization: Bearer <key>`.

    Only the SHA-256 digest of the secret is stored (oncall.keys); the prefix tells keys apart.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What the key is for, e.g. 'deploy bot'.")
    prefix = models.CharField(max_length=32, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
