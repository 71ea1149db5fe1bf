"""`make bench`: throughput beside bare Flask, round trips per operation, memory and start-up (see docs/performance.md)."""
