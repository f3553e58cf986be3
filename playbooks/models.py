"""Playbook entries (a team's, optionally one service's) and the attempts made with them.

An entry's steps are Markdown (rendered only through oncall.markup); its top-level list
items are the steps a person ticks when recording an attempt (`step_list`).
"""

import re

from django.conf import settings
from django.db import models

from incidents.models import SERVICE_MAX, TEXT_MAX

TITLE_MAX = 200
STEPS_MAX = 20_000
# A top-level Markdown list item ("1. Restart", "2) Drain", "- Check the queue"); items
# indented by two spaces or more belong to the step above.
_STEP = re.compile(r"^ ?(?:\d{1,3}[.)]|[-*+])\s+(\S.*)$")


class PlaybookEntry(models.Model):
    team = models.ForeignKey(
        "rotations.Team", on_delete=models.CASCADE, related_name="playbook_entries"
    )
    service = models.CharField(
        max_length=SERVICE_MAX,
        blank=True,
        help_text="Only for incidents of this service (e.g. checkout-api); empty: any of the team's.",
    )
    title = models.CharField(max_length=TITLE_MAX)
    applies_when = models.TextField(
        max_length=TEXT_MAX, help_text="When this entry applies: the symptoms, the alert."
    )
    steps = models.TextField(
        max_length=STEPS_MAX,
        help_text="Markdown. Each top-level list item (1. … or - …) is a step people tick.",
    )
    postmortem = models.ForeignKey(
        "postmortems.Postmortem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="playbook_entries",
        help_text="The postmortem that proposed this entry (weekly review).",
    )
    is_active = models.BooleanField(default=True, help_text="Offered on the triage panel.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("team", "service", "title", "id")
        verbose_name_plural = "playbook entries"
        indexes = [models.Index(fields=("team", "service"), name="playbook_team_service")]

    def __str__(self) -> str:
        return f"{self.title} ({self.service})" if self.service else self.title

    def step_list(self) -> list[str]:
        """The steps people tick: the Markdown's top-level list items, in order."""
        return [m[1].strip() for line in self.steps.splitlines() if (m := _STEP.match(line))]


class Outcome(models.TextChoices):
    WORKED = "worked", "Worked: the problem is gone"
    PARTLY = "partly", "Helped in part"
    FAILED = "failed", "Did not work"


class PlaybookAttempt(models.Model):
    """Someone tried (some of) an entry's steps on an incident, with what came of it."""

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="playbook_attempts"
    )
    entry = models.ForeignKey(
        PlaybookEntry, null=True, on_delete=models.SET_NULL, related_name="attempts"
    )
    entry_title = models.CharField(max_length=TITLE_MAX, help_text="As it was when tried.")
    steps_tried = models.JSONField(default=list, help_text="The step numbers (1-based) tried.")
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    note = models.TextField(max_length=TEXT_MAX, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ("incident", "at", "id")

    def __str__(self) -> str:
        return f"{self.entry_title}: {self.get_outcome_display()}"
