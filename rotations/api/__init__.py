"""The rotations API (the views; urls in rotations/api_urls.py)."""

from rotations.api.views import (
    EscalationPolicyDetailApi,
    EscalationPolicyListApi,
    OnCallApi,
    OverrideDetailApi,
    OverrideListApi,
    RotationDetailApi,
    RotationListApi,
    RotationShiftsApi,
    TeamDetailApi,
    TeamListApi,
)

__all__ = [
    "EscalationPolicyDetailApi",
    "EscalationPolicyListApi",
    "OnCallApi",
    "OverrideDetailApi",
    "OverrideListApi",
    "RotationDetailApi",
    "RotationListApi",
    "RotationShiftsApi",
    "TeamDetailApi",
    "TeamListApi",
]
