"""`make bench`: what a user waits for per operation (its sequential round trips, against stubs 50 ms away),
and throughput beside the least correct handler (see docs/performance.md)."""
