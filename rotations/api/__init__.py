"""REST API: who is on call, teams, rotations and their shifts, overrides and override requests, escalation policies.

Each view validates its query or body with an input serializer, makes one selector or write
call and answers with an output serializer; errors come out in the portal's shape
(oncall.api.errors). Everyone signed in reads; only managers write (IsManagerOrReadOnly).

One module per resource (`oncall`, `teams`, `rotations`, `overrides`, `policies`), the
shared input parsing in `inputs`, serializers in `serializers`; urls in rotations/api/urls.py.
"""

from rotations.api.oncall import OnCallApi
from rotations.api.overrides import OverrideDetailApi, OverrideListApi
from rotations.api.policies import EscalationPolicyDetailApi, EscalationPolicyListApi
from rotations.api.requests import (
    OverrideRequestAnswerApi,
    OverrideRequestDetailApi,
    OverrideRequestListApi,
)
from rotations.api.rotations import RotationDetailApi, RotationListApi, RotationShiftsApi
from rotations.api.teams import TeamDetailApi, TeamListApi

__all__ = [
    "EscalationPolicyDetailApi",
    "EscalationPolicyListApi",
    "OnCallApi",
    "OverrideDetailApi",
    "OverrideListApi",
    "OverrideRequestAnswerApi",
    "OverrideRequestDetailApi",
    "OverrideRequestListApi",
    "RotationDetailApi",
    "RotationListApi",
    "RotationShiftsApi",
    "TeamDetailApi",
    "TeamListApi",
]
