"""Sequential round trips from timestamps: which upstream requests the caller waited on, and how many in a row.

Pure functions of intervals, so they can be tested without servers. An interval is anything with `start` and
`end` on one clock (the stubs log `Logged` entries with the bench's `time.monotonic()`).

- A request is *on the wait* when it ended before the caller received the app's response. A request the app
  waited on ended before the app could answer, so none is left out. One still running when the response
  arrived did not delay it, whenever it started: a direct message the app sends as it writes its answer can
  reach the stub a fraction of a millisecond before the caller has read that answer, and ends a full upstream
  delay after it. Such a request is listed apart, as *still running* (it started before the response was
  received) or *after* (it started later).
- The *critical path* is the longest chain of the requests on the wait in which each one starts after the
  previous one ended. Requests that overlap in time ran in parallel, so at most one of them is on any chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class Interval(Protocol):
    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...


T = TypeVar("T", bound=Interval)


@dataclass(frozen=True)
class Split(Generic[T]):
    """The requests of one call, each list by start time."""

    on_the_wait: list[T]  # ended before the response was received
    still_running: list[T]  # started before it, ended after it
    after: list[T]  # started after it


def split_at_response(requests: Iterable[T], received: float) -> Split[T]:
    ordered = sorted(requests, key=lambda r: (r.start, r.end))
    return Split(
        [r for r in ordered if r.end < received],
        [r for r in ordered if r.start < received <= r.end],
        [r for r in ordered if r.start >= received],
    )


def longest_chain(requests: Iterable[T]) -> list[T]:
    """The longest chain r1, r2, ... with r(k+1).start >= r(k).end, earliest first ([] when there is none).

    Sorted by end, every possible predecessor of a request comes before it (it ends no later than the request
    starts, so before the request ends); one pass keeps, for each request, the longest chain ending with it.
    """
    ordered = sorted(requests, key=lambda r: (r.end, r.start))
    chains: list[list[T]] = []
    for i, request in enumerate(ordered):
        best: list[T] = []
        for j in range(i):
            if ordered[j].end <= request.start and len(chains[j]) > len(best):
                best = chains[j]
        chains.append([*best, request])
    return max(chains, key=len, default=[])


def sequential_round_trips(requests: Iterable[Interval], received: float) -> int:
    """How many upstream round trips in a row the caller waited on."""
    return len(longest_chain(split_at_response(requests, received).on_the_wait))
