"""factory-boy factories shared by every test module."""

import factory
from django.contrib.auth.models import Group
from factory.django import DjangoModelFactory

from oncall.models import User


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    timezone = "America/New_York"
    password = factory.django.Password("secret-pass")

    @factory.post_generation
    def roles(obj: User, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create and extracted:
            obj.groups.set(Group.objects.filter(name__in=extracted))


# --- rotations ------------------------------------------------------------------------------
# Imports sit here so the block can be appended without touching the module head.
from datetime import UTC, date, datetime, time, timedelta  # noqa: E402

from rotations.models import (  # noqa: E402
    DirectNumber,
    Override,
    Position,
    Rotation,
    RotationMember,
    Team,
    Tier,
)


class TeamFactory(DjangoModelFactory[Team]):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"team{n}")
    name = factory.LazyAttribute(lambda t: t.slug.title())
    escalation_contact = factory.SubFactory(UserFactory)


class DirectNumberFactory(DjangoModelFactory[DirectNumber]):
    class Meta:
        model = DirectNumber

    team = factory.SubFactory(TeamFactory)
    label = factory.Sequence(lambda n: f"Lead {n}")
    phone = factory.Sequence(lambda n: f"+1202555{n % 10000:04d}")
    position = factory.Sequence(lambda n: n)


class RotationFactory(DjangoModelFactory[Rotation]):
    """Weekly, Monday 09:00 America/New_York, from Monday 2026-01-05.

    `members=[alice, bob]` puts them in the list in that order (and in the team).
    """

    class Meta:
        model = Rotation
        skip_postgeneration_save = True

    team = factory.SubFactory(TeamFactory)
    tier = Tier.VETERAN
    position = Position.PRIMARY
    shift_length = timedelta(days=7)
    handoff_time = time(9)
    timezone = "America/New_York"
    start_date = date(2026, 1, 5)

    class Params:
        # Mon–Fri 09:00–17:00 in the rotation's timezone.
        working_hours = factory.Trait(
            working_days=[0, 1, 2, 3, 4],
            working_hours_start=time(9),
            working_hours_end=time(17),
        )

    @factory.post_generation
    def members(
        obj: Rotation, create: bool, extracted: list[User] | None, **kwargs: object
    ) -> None:
        if not create or not extracted:
            return
        obj.team.members.add(*extracted)
        RotationMember.objects.bulk_create(
            RotationMember(rotation=obj, user=user, position=i) for i, user in enumerate(extracted)
        )


class RotationMemberFactory(DjangoModelFactory[RotationMember]):
    class Meta:
        model = RotationMember

    rotation = factory.SubFactory(RotationFactory)
    user = factory.SubFactory(UserFactory)
    position = factory.Sequence(lambda n: n)


class OverrideFactory(DjangoModelFactory[Override]):
    """A one-day cover from 2026-01-10 00:00 UTC unless told otherwise."""

    class Meta:
        model = Override

    rotation = factory.SubFactory(RotationFactory)
    user = factory.SubFactory(UserFactory)
    start = datetime(2026, 1, 10, tzinfo=UTC)
    end = factory.LazyAttribute(lambda o: o.start + timedelta(days=1))


# --- escalation policies --------------------------------------------------------------------
from rotations.models import EscalationPolicy, EscalationStep, StepAction  # noqa: E402


class EscalationPolicyFactory(DjangoModelFactory[EscalationPolicy]):
    class Meta:
        model = EscalationPolicy

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Policy {n}")


class EscalationStepFactory(DjangoModelFactory[EscalationStep]):
    """Pages the team's escalation contact after 10 minutes unless told otherwise.

    `walk = True` walks `rotation`'s list; `users=[...]` names whom a users step pages.
    """

    class Meta:
        model = EscalationStep
        skip_postgeneration_save = True

    policy = factory.SubFactory(EscalationPolicyFactory)
    position = factory.Sequence(lambda n: n)
    action = StepAction.ESCALATION_CONTACT
    wait = timedelta(minutes=10)

    class Params:
        walk = factory.Trait(action=StepAction.WALK_ROTATION)

    @factory.post_generation
    def users(
        obj: EscalationStep, create: bool, extracted: list[User] | None, **kwargs: object
    ) -> None:
        if create and extracted:
            obj.users.set(extracted)


# --- incidents ------------------------------------------------------------------------------
from incidents.models import Incident, Severity  # noqa: E402


class IncidentFactory(DjangoModelFactory[Incident]):
    """A triggered SEV2 incident with no escalation (use incident_declare to page people)."""

    class Meta:
        model = Incident

    title = factory.Sequence(lambda n: f"Checkout errors {n}")
    severity = Severity.SEV2
    team = factory.SubFactory(TeamFactory)
    triggered_at = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)


# --- API keys -------------------------------------------------------------------------------
from typing import Any  # noqa: E402

from oncall.keys import key_issue  # noqa: E402
from oncall.models import ApiKey  # noqa: E402


class ApiKeyFactory(DjangoModelFactory[ApiKey]):
    """A personal API key; the secret (stored only as a digest) is on the instance as `secret`."""

    class Meta:
        model = ApiKey

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"script {n}")

    @classmethod
    def _create(cls, model_class: type[ApiKey], *args: Any, **kwargs: Any) -> ApiKey:
        issued = key_issue(kind="api")
        kwargs.setdefault("prefix", issued.prefix)
        kwargs.setdefault("digest", issued.digest)
        key = super()._create(model_class, *args, **kwargs)
        setattr(key, "secret", issued.secret)  # noqa: B010 (not a model field)
        return key


# --- integrations ---------------------------------------------------------------------------
from integrations.models import Integration, IntegrationType  # noqa: E402


class IntegrationFactory(DjangoModelFactory[Integration]):
    """An Events v2 integration; its secret key is on `.key` (only the digest is stored)."""

    class Meta:
        model = Integration

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Monitoring {n}")
    type = IntegrationType.EVENTS_V2

    class Params:
        alertmanager = factory.Trait(type=IntegrationType.ALERTMANAGER)

    @classmethod
    def _create(cls, model_class: object, *args: object, **kwargs: object) -> Integration:
        issued = key_issue(kind="integration")
        obj = super()._create(
            model_class, *args, key_prefix=issued.prefix, key_digest=issued.digest, **kwargs
        )
        obj.key = issued.secret
        return obj
