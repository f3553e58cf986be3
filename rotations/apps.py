from django.apps import AppConfig

from oncall.roles import EDIT, ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER, VIEW

MODELS = (
    "team",
    "directnumber",
    "rotation",
    "rotationmember",
    "override",
    "escalationpolicy",
    "escalationstep",
)


class RotationsConfig(AppConfig):
    name = "rotations"
    verbose_name = "Rotations"
    demo_seed = "rotations.demo.seed"
    # Managers shape rotations and policies; everyone else may look.
    role_permissions = {
        # Requests are between two people; managers may look at them (read-only admin).
        MANAGER: {**{model: EDIT for model in MODELS}, "overriderequest": VIEW},
        SUPPORT_MANAGER: {model: VIEW for model in MODELS},
        ENGINEER: {model: VIEW for model in MODELS},
        SUPPORT: {model: VIEW for model in MODELS},
    }

    def ready(self) -> None:
        from rotations import stamp

        stamp.connect()
