"""Sequential round trips from timestamps: what was waited on, and the longest chain of it."""

from __future__ import annotations

from dataclasses import dataclass

from bench.critical_path import longest_chain, sequential_round_trips, split_at_response


@dataclass(frozen=True)
class Span:
    label: str
    start: float
    end: float


def spans(*triples: tuple[str, float, float]) -> list[Span]:
    return [Span(label, start, end) for label, start, end in triples]


def labels(chain: list[Span]) -> list[str]:
    return [s.label for s in chain]


def test_requests_one_after_the_other_are_all_on_the_critical_path():
    today = spans(("exchange", 2, 53), ("userinfo", 55, 105), ("store", 107, 157), ("open DM", 159, 209), ("post DM", 210, 260))

    assert sequential_round_trips(today, received=262) == 5
    assert labels(longest_chain(today)) == ["exchange", "userinfo", "store", "open DM", "post DM"]


def test_overlapping_requests_ran_in_parallel_and_count_once():
    stale = spans(("refresh", 2, 53), ("events API", 55, 106), ("store", 54, 105))

    assert sequential_round_trips(stale, received=107) == 2
    assert labels(longest_chain(stale))[0] == "refresh"


def test_the_longest_chain_wins_over_a_shorter_parallel_branch():
    # a ─ b ─ c, and d alongside b and c
    requests = spans(("a", 0, 10), ("d", 11, 40), ("b", 11, 20), ("c", 21, 30))

    assert labels(longest_chain(requests)) == ["a", "b", "c"]


def test_a_request_that_starts_exactly_when_the_previous_one_ends_is_sequential():
    assert sequential_round_trips(spans(("a", 0, 10), ("b", 10, 20)), received=21) == 2


def test_requests_after_the_response_are_not_on_the_wait():
    complete = spans(("exchange", 2, 53), ("store", 55, 106), ("open DM", 108, 158), ("post DM", 160, 210))

    split = split_at_response(complete, received=107)

    assert labels(split.on_the_wait) == ["exchange", "store"]
    assert labels(split.after) == ["open DM", "post DM"]
    assert sequential_round_trips(complete, received=107) == 2


def test_a_request_sent_as_the_answer_leaves_is_not_waited_on_though_the_stub_saw_it_first():
    # The app writes its answer, then opens the DM channel; the stub reads that request 0.2 ms before the
    # caller has parsed the answer's headers. It ends a full delay later: nobody waited on it.
    complete = spans(("exchange", 2, 53), ("store", 55, 106.9), ("open DM", 107.6, 158), ("post DM", 160, 210))

    split = split_at_response(complete, received=107.8)

    assert labels(split.on_the_wait) == ["exchange", "store"]
    assert labels(split.still_running) == ["open DM"]
    assert labels(split.after) == ["post DM"]
    assert sequential_round_trips(complete, received=107.8) == 2


def test_no_request_no_round_trip():
    assert sequential_round_trips([], received=1) == 0
    assert longest_chain([]) == []
