"""One shared `requests.Session` for every outbound call: pooled connections, bounded retries.

Only idempotent methods are retried (GET, HEAD, OPTIONS), on connection errors and on 502/503/504;
a POST that may have reached the server is never sent twice.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


def new_session(*, user_agent: str, retries: int = 2, backoff: float = 0.2, pool_size: int = 16) -> requests.Session:
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD", "OPTIONS"}),
        raise_on_status=False,
        respect_retry_after_header=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    return session
