"""Memory stays bounded whatever the number of users: the refresh lock is a fixed set of files, and nothing in the
app keeps a per-user entry (the per-process lock table and the memory of traded-in refresh tokens, which grew by
about 200 bytes a user, are gone)."""

from __future__ import annotations

import tracemalloc

from user_tokens import HostLock

USERS = 20_000


def test_the_refresh_lock_of_twenty_thousand_users_costs_no_memory_and_at_most_256_files(tmp_path):
    lock = HostLock(tmp_path)
    with lock.hold("warm-up", timeout=1):  # the first use opens what every later one reuses
        pass
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for n in range(USERS):
        with lock.hold(f"user{n:022d}", timeout=1):
            pass
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 64 * 1024, f"{grown} bytes kept for {USERS} users"
    assert len(list(tmp_path.iterdir())) <= 256


def test_the_token_service_keeps_no_per_user_state(app):
    tokens = app.extensions["services"].tokens
    containers = {name: value for name, value in vars(tokens).items() if isinstance(value, dict | list | set)}
    assert containers == {}, containers
