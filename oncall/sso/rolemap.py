"""Parse OIDC_ROLE_MAP: `claim value:Role,claim value:Role` (read by the settings, so pure)."""

from django.core.exceptions import ImproperlyConfigured


def parse_role_map(text: str) -> dict[str, str]:
    """Claim value → role name. The last colon splits, so a value may hold colons (URNs)."""
    mapping: dict[str, str] = {}
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        value, colon, role = entry.rpartition(":")
        if not colon or not value.strip() or not role.strip():
            raise ImproperlyConfigured(
                f"OIDC_ROLE_MAP entry {entry!r} is not `claim value:Role`, "
                "e.g. oncall-managers:Manager."
            )
        mapping[value.strip()] = role.strip()
    return mapping
