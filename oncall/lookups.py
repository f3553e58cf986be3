"""`__in` on integer columns that ignores numbers no row can hold.

Django turns an exact lookup of an integer beyond the column's range into "no match"
(`IntegerFieldExact`), but not `__in`: on SQLite `pk__in=[10**20]` raises OverflowError
while the query is bound, so a crafted id in a multiple choice (the admin's groups,
permissions, team members) answered 500 on the embedded default. A number outside 64 bits
matches no row on any backend, so leaving it out of the list changes no answer.
"""

from typing import Any

from django.db import models
from django.db.models.fields.related_lookups import RelatedIn
from django.db.models.lookups import In

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _fits(value: Any) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or INT64_MIN <= value <= INT64_MAX


def _within(lookup: In, prepared: Any) -> Any:
    if lookup.rhs_is_direct_value() and isinstance(prepared, (list, tuple, set, frozenset)):
        return [value for value in prepared if _fits(value)]
    return prepared


@models.IntegerField.register_lookup
class IntegerIn(In):
    lookup_name = "in"

    def get_prep_lookup(self) -> Any:
        return _within(self, super().get_prep_lookup())


@models.ForeignObject.register_lookup
class RelatedIntegerIn(RelatedIn):
    """The same for a relation (`members__in=[…]`, `user__in=[…]`)."""

    lookup_name = "in"

    def get_prep_lookup(self) -> Any:
        return _within(self, super().get_prep_lookup())
