from __future__ import annotations

import itertools
import random

from promptpulse.counting import Candidate, select_counted


def c(
    id: int,
    mid: str | None,
    rid: str | None,
    *,
    side: bool = False,
    total: int = 10,
    speed: bool = False,
    path: str = "a",
    offset: int | None = None,
) -> Candidate:
    return Candidate(id, mid, rid, side, total, speed, path, id if offset is None else offset)


def test_streaming_chunks_keep_the_largest_total() -> None:
    assert select_counted(
        [c(1, "m", "r", total=5), c(2, "m", "r", total=90), c(3, "m", "r", total=7)]
    ) == {2}


def test_non_sidechain_copy_wins_over_a_larger_sidechain_copy() -> None:
    assert select_counted([c(1, "m", "r", side=True, total=100), c(2, "m", "r", total=1)]) == {2}


def test_ties_go_to_a_copy_with_speed_then_to_path_order() -> None:
    assert select_counted([c(1, "m", "r"), c(2, "m", "r", speed=True)]) == {2}
    assert select_counted([c(1, "m", "r", path="b"), c(2, "m", "r", path="a")]) == {2}


def test_missing_request_id_keys_by_message_id_alone() -> None:
    assert select_counted([c(1, "m", None, total=3), c(2, "m", None, total=4)]) == {2}


def test_lines_without_message_id_all_count() -> None:
    assert select_counted([c(1, None, "r"), c(2, None, "r"), c(3, None, None)]) == {1, 2, 3}


def test_btw_replay_under_a_new_request_id_is_not_counted_again() -> None:
    assert select_counted([c(1, "m", "r1"), c(2, "m", "r2", side=True, total=999)]) == {1}


def test_distinct_requests_outside_sidechains_both_count() -> None:
    assert select_counted([c(1, "m", "r1"), c(2, "m", "r2")]) == {1, 2}


def test_lone_sidechain_replays_keep_exactly_one() -> None:
    assert select_counted(
        [c(1, "m", "r1", side=True, total=3), c(2, "m", "r2", side=True, total=8)]
    ) == {2}


def test_the_result_does_not_depend_on_reading_order() -> None:
    rnd = random.Random(3)
    lines = []
    for i in range(40):
        mid = rnd.choice(["a", "b", "c", None])
        rid = rnd.choice(["r1", "r2", None])
        lines.append(
            c(
                i,
                mid,
                rid,
                side=rnd.random() < 0.4,
                total=rnd.randrange(4),
                speed=rnd.random() < 0.3,
                path=rnd.choice("xy"),
                offset=i,
            )
        )
    expected = select_counted(lines)
    for _ in range(30):
        rnd.shuffle(lines)
        assert select_counted(lines) == expected
    small = lines[:6]
    for perm in itertools.permutations(small):
        assert select_counted(perm) == select_counted(small)
