import pytest
from django.core.exceptions import ValidationError

from oncall.models import User


@pytest.mark.django_db
def test_user_accepts_e164_phone_and_iana_timezone() -> None:
    user = User(
        username="ana", email="ana@example.com", phone="+12025550143", timezone="Europe/Paris"
    )
    user.set_password("x-long-password")
    user.full_clean()
    user.save()
    assert User.objects.get(username="ana").phone == "+12025550143"
    assert user.tzinfo.key == "Europe/Paris"


@pytest.mark.parametrize("phone", ["555-123-4567", "+1555", "12025550143", "+1 (202) not a number"])
@pytest.mark.django_db
def test_user_refuses_phone_not_in_e164(phone: str) -> None:
    user = User(username="ana", email="ana@example.com", phone=phone, password="x")
    with pytest.raises(ValidationError) as error:
        user.full_clean()
    assert "E.164" in str(error.value.message_dict["phone"])


@pytest.mark.django_db
def test_user_refuses_unknown_timezone() -> None:
    user = User(username="ana", email="ana@example.com", timezone="Mars/Olympus", password="x")
    with pytest.raises(ValidationError) as error:
        user.full_clean()
    assert "IANA timezone" in str(error.value.message_dict["timezone"])


def test_user_name_prefers_display_name_then_full_name_then_username() -> None:
    assert User(username="u1", display_name="Ana B.", first_name="Ana").name == "Ana B."
    assert User(username="u1", first_name="Ana", last_name="Bell").name == "Ana Bell"
    assert User(username="u1").name == "u1"
