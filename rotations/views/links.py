"""Absolute URLs for the pages and the iCal feeds (what a calendar app subscribes to)."""

from django.conf import settings
from django.urls import reverse

from rotations.models import PersonalFeed, Rotation


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def webcal_url(url: str) -> str:
    """The same feed as a webcal:// link, which calendar apps open as a subscription."""
    return "webcal://" + url.split("://", 1)[-1]


def rotation_feed_url(rotation: Rotation) -> str:
    return absolute_url(reverse("rotations:rotation-feed", args=[rotation.ical_token]))


def person_feed_url(feed: PersonalFeed) -> str:
    return absolute_url(reverse("rotations:person-feed", args=[feed.token]))
