"""The one stepping rule: what a step run pages, what it skips at once, when the next is due."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rotations.stepping import (
    ESCALATION_CONTACT,
    ROTATION_ONCALL,
    USERS,
    WALK_ROTATION,
    Finished,
    FrozenStep,
    Nobody,
    Paged,
    PolicySnapshot,
    Position,
    Repeated,
    Target,
    step_plan,
    step_run,
)

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


@dataclass
class People:
    """A directory from plain data: who exists and who is on call for rotation 7 when."""

    present_ids: set[int] = field(default_factory=lambda: {1, 2, 3, 9})
    handoff: datetime = T + 30 * MIN  # 1 is on call before, 2 from then

    def on_call(self, rotation_id: int, at: datetime) -> Target | None:
        if rotation_id != 7:
            return None
        return Target(1 if at < self.handoff else 2, "on call")

    def present(self, user_id: int) -> bool:
        return user_id in self.present_ids


def users(*ids: int | None, wait: timedelta = 10 * MIN) -> FrozenStep:
    return FrozenStep(USERS, wait, targets=tuple(Target(i, "named") for i in ids))


def pages(snapshot: PolicySnapshot, directory: People | None = None) -> list[tuple[int, int]]:
    """(minute, person) of every page if nobody acknowledges."""
    return [
        (int((run.at - T) / MIN), p.user_id)
        for run in step_plan(snapshot, Position(), T, directory or People())
        for p in run.paged
    ]


def test_a_step_with_nobody_to_page_costs_no_time() -> None:
    snapshot = PolicySnapshot("p", (users(None), users(4), users(2, wait=5 * MIN), users(3)))
    run = step_run(snapshot, Position(), T, People())
    # Step 1 names nobody, step 2 a person who no longer exists: both skipped at once.
    assert [type(h) for h in run.happened] == [Nobody, Nobody, Paged]
    assert run.paged[0].position == Position(2, 0, 0)
    assert run.next_at == T + 5 * MIN
    assert pages(snapshot) == [(0, 2), (5, 3)]


def test_the_last_page_of_the_last_pass_ends_the_track_at_once() -> None:
    run = step_run(PolicySnapshot("p", (users(1),)), Position(), T, People())
    assert isinstance(run.happened[-1], Finished)
    assert run.done
    assert run.next_at is None


def test_a_walk_pages_one_person_per_wait_from_its_frozen_list() -> None:
    walk = tuple(Target(uid, "list") for uid in (2, 5, 3))  # 5 was deleted since the trigger
    snapshot = PolicySnapshot(
        "p",
        (
            FrozenStep(WALK_ROTATION, 10 * MIN, rotation_id=7, walk=walk),
            FrozenStep(ESCALATION_CONTACT, 10 * MIN, targets=(Target(9, "contact"),)),
        ),
    )
    assert pages(snapshot) == [(0, 2), (10, 3), (20, 9)]


def test_the_on_call_is_asked_when_the_step_runs_and_repeats_start_over() -> None:
    snapshot = PolicySnapshot(
        "p", (FrozenStep(ROTATION_ONCALL, 20 * MIN, rotation_id=7, label="1"),), repeat=2
    )
    assert pages(snapshot) == [(0, 1), (20, 1), (40, 2)]
    second = step_run(snapshot, Position(1, 0, 0), T + 20 * MIN, People())
    assert second.happened[0] == Repeated(1)


def test_a_missing_rotation_is_nobody_to_page() -> None:
    snapshot = PolicySnapshot("p", (FrozenStep(ROTATION_ONCALL, MIN, rotation_id=8, label="1."),))
    run = step_run(snapshot, Position(), T, People())
    assert run.happened == (
        Nobody("the rotation of step '1.' no longer exists", Position()),
        Finished(),
    )


def test_a_snapshot_survives_json_unchanged() -> None:
    snapshot = PolicySnapshot(
        "Engage",
        (
            FrozenStep(WALK_ROTATION, 90 * MIN, rotation_id=7, walk=(Target(2, "on call"),)),
            users(1, None),
        ),
        repeat=1,
        policy_id=3,
    )
    assert PolicySnapshot.from_json(snapshot.to_json()) == snapshot


def test_a_snapshot_stored_in_an_older_shape_still_loads() -> None:
    old = {
        "name": "Old",
        "steps": [
            {"action": "users", "wait": 600, "user_ids": [1, 2]},
            {"action": "walk_rotation", "wait": 60.0, "rotation_id": 7, "walk": [[3, "x"]]},
        ],
    }
    snapshot = PolicySnapshot.from_json(old)
    assert snapshot.repeat == 0
    assert snapshot.policy_id is None
    assert snapshot.steps[0].targets == (
        Target(1, "named in the policy"),
        Target(2, "named in the policy"),
    )
    assert snapshot.steps[0].wait == 10 * MIN
    assert snapshot.steps[1].walk == (Target(3, "x"),)
    assert PolicySnapshot.from_json(None) == PolicySnapshot("", ())
