"""One shared HTTP session for every outbound call: pooled connections, bounded retries, one deadline per call.

- Only idempotent methods are retried (GET, HEAD, OPTIONS), on connection errors and on 502/503/504; a POST
  that may have reached the server is never sent twice.
- `call_deadline(seconds)` bounds everything a call sends: each request's timeout is cut to what is left, a retry
  that could not finish in time is not started, and a request still going at the deadline (an upstream that hangs,
  or trickles its answer a byte at a time) ends there with `DeadlinePassed`, so the caller always gets an answer
  before the plugin gives up on it (30 s). Under gevent (the shipped server) a `gevent.Timeout` bounds the whole
  request; elsewhere (a threaded server) the answer is read a piece at a time and the deadline checked between.
- Every answer is read at most `max_answer_bytes` (1 MiB by default), decompressed: a bigger one raises
  `AnswerTooLarge` and is never held in memory whole.
- The environment is read once, when the session is made: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`
  as they were then, `REQUESTS_CA_BUNDLE` or `CURL_CA_BUNDLE`; `.netrc` is never read. requests would otherwise
  read all of them on every request, so a change to the process's environment could redirect a token.
- No cookies are kept: an answer's `Set-Cookie` never travels with another request, to that host or another.
- Redirects are not followed: a token or a record goes only to the URL it was sent to.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.request import getproxies_environment

import requests
from requests.adapters import HTTPAdapter
from requests.utils import should_bypass_proxies
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.util.retry import Retry

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("mattermost_apps_call_deadline", default=None)
_attempt_timeout: contextvars.ContextVar[float] = contextvars.ContextVar("mattermost_apps_attempt_timeout", default=0.0)
MAX_ANSWER_BYTES = 1 << 20
_READ_BYTES = 64 * 1024


class DeadlinePassed(requests.Timeout):
    """The call's deadline passed before the request ended."""


class _Expired(Exception):  # not an OSError: no library on the way mistakes it for a socket error
    pass


class AnswerTooLarge(requests.RequestException):
    """The answer is larger than the session reads (`max_answer_bytes`)."""


@contextmanager
def call_deadline(seconds: float) -> Iterator[None]:
    """Everything the session sends inside the block finishes within `seconds` from now."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def time_left() -> float | None:
    """Seconds left before the current call's deadline, or None outside a call."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


class DeadlineRetry(Retry):
    """urllib3's Retry, which also gives up when another attempt could not finish before the call's deadline."""

    def is_exhausted(self) -> bool:
        left = time_left()
        return super().is_exhausted() or (left is not None and left < _attempt_timeout.get())


class AppSession(requests.Session):
    """A `requests.Session` with the rules above; `new_session` builds one."""

    def __init__(self, *, max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        super().__init__()
        self.max_answer_bytes = max_answer_bytes
        self.trust_env = False  # no per-request reading of the environment, and no .netrc
        self.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        proxies = getproxies_environment()
        self._no_proxy = proxies.pop("no", None)
        self._proxies = proxies
        self.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        text_url = url if isinstance(url, str) else url.decode()
        bypass = not self._proxies or should_bypass_proxies(text_url, no_proxy=self._no_proxy)
        kwargs.setdefault("proxies", {} if bypass else dict(self._proxies))  # the proxies named at start
        kwargs["stream"] = True  # read below, within the deadline and the size limit
        timeout = kwargs.get("timeout")
        left = time_left()
        if left is not None:
            if left <= 0:
                raise DeadlinePassed("the call's deadline has passed")
            timeout = left if not isinstance(timeout, int | float) else min(timeout, left)
            kwargs["timeout"] = timeout
        attempt = _attempt_timeout.set(timeout if isinstance(timeout, int | float) else 0.0)
        try:
            with _whole_request_limit(left):
                response = super().request(method, url, *args, **kwargs)
                _read_answer(response, self.max_answer_bytes)
                return response
        except _Expired:
            raise DeadlinePassed("the call's deadline passed during the request") from None
        finally:
            _attempt_timeout.reset(attempt)


def _whole_request_limit(left: float | None) -> contextlib.AbstractContextManager[object]:
    """Under gevent's patched sockets, a timeout that ends the request at the deadline wherever it is blocked."""
    monkey = sys.modules.get("gevent.monkey")
    if left is None or monkey is None or not monkey.is_module_patched("socket"):
        return contextlib.nullcontext()
    import gevent  # noqa: PLC0415 - only where gevent runs the process

    return gevent.Timeout(left, _Expired)


def _read_answer(response: requests.Response, limit: int) -> None:
    """Read the streamed answer into `response.content`: at most `limit` bytes, and never past the call's deadline
    (checked after each piece, which arrives within one read timeout)."""
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := response.raw.read1(_READ_BYTES, decode_content=True):
            size += len(chunk)
            if size > limit:
                raise AnswerTooLarge(f"the answer is over {limit} bytes")
            left = time_left()
            if left is not None and left <= 0:
                raise DeadlinePassed("the call's deadline passed while the answer was read")
            chunks.append(chunk)
    except (DeadlinePassed, AnswerTooLarge):  # OSErrors themselves, as every requests exception
        response.close()
        raise
    except (Urllib3Error, OSError) as exc:
        response.close()
        raise requests.ConnectionError(type(exc).__name__) from None
    except BaseException:
        response.close()
        raise
    response._content = b"".join(chunks)  # what requests' own `content` does
    response._content_consumed = True  # type: ignore[attr-defined]
    response.raw.release_conn()


def new_session(
    *, user_agent: str, retries: int = 2, backoff: float = 0.2, pool_size: int = 16, max_answer_bytes: int = MAX_ANSWER_BYTES
) -> AppSession:
    retry = DeadlineRetry(
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
    session = AppSession(max_answer_bytes=max_answer_bytes)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    return session
