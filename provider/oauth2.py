"""The OAuth2 provider (Google by default; any OAuth2/OIDC server through the OAUTH2_* settings).

Each method is one round trip. Failures raise `ProviderError` with a reason the handlers turn into one
sentence. Token-endpoint work goes through requests-oauthlib; its sessions borrow the app's shared
connection pool, and every request is bounded by the app's timeout.

Refresh uses requests-oauthlib rather than google-auth on purpose: google-auth retries a refresh POST on
5xx, and a provider that rotates refresh tokens revokes the whole grant when one is replayed.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlparse, urlunparse

import requests
from oauthlib.oauth2 import InsecureTransportError, OAuth2Error
from oauthlib.oauth2.rfc6749.utils import is_secure_transport
from requests_oauthlib import OAuth2Session

from .errors import ProviderError

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 128  # characters kept of the userinfo `name`
MAX_EMAIL_LENGTH = 254  # RFC 5321: no valid address is longer


# quote_plus for the values that are the same on every connect (client id, redirect URI, scopes): quoting a URL
# costs a few µs a call, a lookup much less.
_quote_same = functools.lru_cache(maxsize=256)(quote_plus)


@functools.lru_cache(maxsize=16)
def _split_url(url: str) -> tuple[str, str, str, str, tuple[str, ...], str]:
    """urlparse, with the query as oauthlib re-encodes it (parse_qsl, then urlencode): `k=v` strings."""
    scheme, netloc, path, params, query, fragment = urlparse(url)
    pairs = tuple(f"{quote_plus(k)}={quote_plus(v)}" for k, v in parse_qsl(query, keep_blank_values=True))
    return scheme, netloc, path, params, pairs, fragment


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint gave us, normalised."""

    access_token: str
    refresh_token: str | None
    expires_at: float | None
    scope: str
    token_type: str


@dataclass(frozen=True)
class Identity:
    sub: str
    email: str
    name: str


class OAuth2Provider:
    def __init__(
        self,
        *,
        authorize_url: str,
        token_url: str,
        revoke_url: str,
        userinfo_url: str,
        scopes: Sequence[str],
        session: requests.Session,
        timeout: float,
    ) -> None:
        self.authorize_url = authorize_url
        self.token_url = token_url
        self.revoke_url = revoke_url
        self.userinfo_url = userinfo_url
        self.scopes = list(scopes)
        self._session = session
        self._timeout = timeout

    def authorization_url(self, *, client_id: str, redirect_uri: str, state: str, code_challenge: str) -> str:
        """The URL the plugin redirects the browser to. `state` is the plugin's, passed through unchanged;
        `access_type=offline` + `prompt=consent` make Google return a refresh token on every connect.

        The same URL, byte for byte, as oauthlib's `WebApplicationClient.prepare_request_uri` (what
        `OAuth2Session.authorization_url` calls), same parameters in the same order, same check of the transport;
        built directly, because the session and oauthlib's generic parameter handling were most of the cost of
        `/oauth2/connect` (docs/performance.md; tests/unit/test_authorization_url.py holds the two equal)."""
        if not is_secure_transport(self.authorize_url):
            raise InsecureTransportError()
        scheme, netloc, path, params, query_pairs, fragment = _split_url(self.authorize_url)
        pairs = [*query_pairs, "response_type=code", "client_id=" + _quote_same(client_id)]
        if redirect_uri:
            pairs.append("redirect_uri=" + _quote_same(redirect_uri))
        if self.scopes:
            pairs.append("scope=" + _quote_same(" ".join(self.scopes)))
        if state:
            pairs.append("state=" + quote_plus(state))
        pairs += [
            "code_challenge=" + quote_plus(code_challenge),
            "code_challenge_method=S256",
            "access_type=offline",
            "prompt=consent",
            "include_granted_scopes=true",
        ]
        return urlunparse((scheme, netloc, path, params, "&".join(pairs), fragment))

    def exchange_code(
        self, *, client_id: str, client_secret: str, redirect_uri: str, code: str, code_verifier: str
    ) -> TokenGrant:
        # No `scope` on this session: the provider may add or rename scopes (Google adds `openid` and spells
        # `email` as a URL), and oauthlib would raise on the difference. What was granted is in the answer.
        oauth = self._oauth_session(client_id, redirect_uri=redirect_uri)
        token = self._token_call(
            "exchange the authorization code",
            lambda: oauth.fetch_token(
                self.token_url,
                code=code,
                client_secret=client_secret,
                code_verifier=code_verifier,
                timeout=self._timeout,
            ),
        )
        return _grant_from(token, previous_refresh_token=None)

    def refresh(self, *, client_id: str, client_secret: str, refresh_token: str) -> TokenGrant:
        oauth = self._oauth_session(client_id)
        token = self._token_call(
            "refresh the access token",
            lambda: oauth.refresh_token(
                self.token_url,
                refresh_token=refresh_token,
                auth=(client_id, client_secret),
                timeout=self._timeout,
            ),
        )
        # A provider that does not rotate (Google) answers without a refresh token: keep ours.
        return _grant_from(token, previous_refresh_token=refresh_token)

    def revoke(self, token: str, *, client_id: str, client_secret: str) -> bool:
        """Best effort: True when the provider confirmed. Revoking the refresh token ends the whole grant."""
        try:
            response = self._session.post(
                self.revoke_url,
                data={"token": token},
                auth=(client_id, client_secret) if client_secret else None,
                timeout=self._timeout,
            )
        except (requests.RequestException, UnicodeError) as exc:  # UnicodeError: a client id or secret that is not latin-1
            log.warning("token revocation failed: %s", type(exc).__name__)
            return False
        if response.status_code != 200:
            log.warning("token revocation answered %s", response.status_code)
            return False
        return True

    def fetch_identity(self, access_token: str) -> Identity:
        info = self.get_json(self.userinfo_url, access_token, operation="read your profile")
        sub = info.get("sub") or info.get("id")
        if not isinstance(sub, str | int) or sub == "":
            raise ProviderError("bad_response", "read your profile", "the userinfo answer has no sub")
        email = info.get("email")
        name = info.get("name")
        # Display-only fields, bounded so the encrypted record stays under Mattermost's 8 KiB limit.
        return Identity(
            sub=str(sub),
            email=email[:MAX_EMAIL_LENGTH] if isinstance(email, str) else "",
            name=name[:MAX_NAME_LENGTH] if isinstance(name, str) else "",
        )

    def get_json(self, url: str, access_token: str, *, operation: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET a JSON object from an API with the user's access token."""
        try:
            response = self._session.get(
                url,
                params=params,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise ProviderError("unavailable", operation, type(exc).__name__) from None
        except UnicodeError:  # a token HTTP headers cannot carry (not latin-1)
            raise ProviderError("unauthorized", operation, "the access token cannot be sent") from None
        if response.status_code == 401:
            raise ProviderError("unauthorized", operation, "the access token was not accepted", status=401)
        if response.status_code == 403:
            raise ProviderError("forbidden", operation, _error_summary(response), status=403)
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderError("unavailable", operation, f"HTTP {response.status_code}", status=response.status_code)
        if response.status_code != 200:
            raise ProviderError("bad_response", operation, _error_summary(response), status=response.status_code)
        try:
            body = response.json()
        except ValueError:
            raise ProviderError("bad_response", operation, "the answer is not JSON") from None
        if not isinstance(body, dict):
            raise ProviderError("bad_response", operation, "the answer is not a JSON object")
        return body

    # -- internals ----------------------------------------------------------------------------------

    def _oauth_session(self, client_id: str, **kwargs: Any) -> OAuth2Session:
        oauth = OAuth2Session(client_id, **kwargs)
        for prefix, adapter in self._session.adapters.items():
            oauth.mount(prefix, adapter)
        oauth.headers.update(self._session.headers)
        # A token endpoint that fails (5xx, HTML error page) must not be parsed as a token answer.
        oauth.register_compliance_hook("access_token_response", _raise_on_server_error)
        oauth.register_compliance_hook("refresh_token_response", _raise_on_server_error)
        return oauth

    @staticmethod
    def _token_call(operation: str, call: Any) -> dict[str, Any]:
        try:
            token = call()
        except ProviderError as exc:
            raise ProviderError(exc.reason, operation, exc.detail, status=exc.status) from None
        except OAuth2Error as exc:
            reason = exc.error if exc.error in ("invalid_grant", "invalid_client") else "rejected"
            raise ProviderError(reason, operation, exc.error or "", status=exc.status_code) from None
        except requests.RequestException as exc:
            raise ProviderError("unavailable", operation, type(exc).__name__) from None
        except Warning as exc:  # oauthlib's "Scope has changed" when a scope was passed
            token = getattr(exc, "token", None)
            if token is None:
                raise ProviderError("bad_response", operation, str(exc)) from None
        except ValueError as exc:  # oauthlib: not JSON, or no access_token
            raise ProviderError("bad_response", operation, type(exc).__name__) from None
        return dict(token)


def _raise_on_server_error(response: requests.Response) -> requests.Response:
    if response.status_code >= 500 or response.status_code == 429:
        raise ProviderError("unavailable", "", f"HTTP {response.status_code}", status=response.status_code)
    content_type = response.headers.get("Content-Type", "")
    if response.status_code != 200 and "json" not in content_type:
        raise ProviderError("bad_response", "", f"HTTP {response.status_code}", status=response.status_code)
    return response


def _grant_from(token: dict[str, Any], *, previous_refresh_token: str | None) -> TokenGrant:
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ProviderError("bad_response", "read the token answer", "no access_token")
    refresh_token = token.get("refresh_token") or previous_refresh_token
    expires_at = token.get("expires_at")
    if not isinstance(expires_at, int | float):
        expires_in = token.get("expires_in")
        expires_at = time.time() + float(expires_in) if isinstance(expires_in, int | float) else None
    scope = token.get("scope") or ""
    if isinstance(scope, list):
        scope = " ".join(scope)
    return TokenGrant(
        access_token=access_token,
        refresh_token=refresh_token if isinstance(refresh_token, str) else None,
        expires_at=float(expires_at) if expires_at is not None else None,
        scope=str(scope),
        token_type=str(token.get("token_type") or "Bearer"),
    )


def _error_summary(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):  # Google APIs: {"error": {"code", "message", "status"}}
            return str(err.get("status") or err.get("message") or response.status_code)[:120]
        if isinstance(err, str):
            return err[:120]
    return f"HTTP {response.status_code}"
