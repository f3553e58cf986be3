"""The postmortems app's pages (one module per page family)."""

from django.urls import reverse


def address_up_to_id(name: str, placeholder: str = "0") -> str:
    """The address of `name` up to its one argument (an id or a slug, then "/"): reversed
    once for a page's rows (the review's few hundred, the list's fifty) instead of once per
    row (`{% url %}` per row was a third of the review's rendering)."""
    address = reverse(name, args=[placeholder])
    assert address.endswith(f"/{placeholder}/"), address
    return address[: -len(placeholder) - 1]
