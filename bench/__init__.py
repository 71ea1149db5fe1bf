"""`make bench`: what a user waits for per operation, and its sequential round trips, against stubs 50 ms away
(see docs/performance.md)."""
