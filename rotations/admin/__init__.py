"""The managers' admin for rotations: teams, rotations, overrides, escalation policies.

Managers (and superusers) change these; the other roles hold view permissions only
(rotations.apps.RotationsConfig.role_permissions), which Django's admin enforces.
"""

from rotations.admin import policies, schedules, teams

__all__ = ["policies", "schedules", "teams"]
