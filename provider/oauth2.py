"""A generic OAuth2 client: authorization URL, code exchange, refresh, revocation, identity, API GETs.

Each method is one round trip. Failures raise `ProviderError` with a reason code. The authorization URL is
oauthlib's, the exchange and the refresh go through requests-oauthlib; its sessions borrow the app's shared
connection pool, and every request is bounded by the app's timeout.

A provider is a subclass (see `provider/google.py`): its class attributes are the defaults the settings start
from, and `revocation_request` (how a grant is revoked) and `userinfo` (who the user is, when there is no ID token)
are the two hooks a provider that strays from the standards overrides (docs/adapting.md's GitHub).

Refresh uses requests-oauthlib rather than google-auth on purpose: google-auth retries a refresh POST on
5xx, and a provider that rotates refresh tokens revokes the whole grant when one is replayed.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, Protocol

import jwt
import requests
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient
from requests_oauthlib import OAuth2Session

from mattermost_apps.http import AppSession, time_left

from .errors import ProviderError

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 128  # characters kept of the userinfo `name`
MAX_EMAIL_LENGTH = 254  # RFC 5321: no valid address is longer
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")

RevokeOutcome = Literal["revoked", "unconfirmed", "unsupported"]


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint gave us, normalised."""

    access_token: str
    refresh_token: str | None
    expires_at: float | None
    scope: str
    token_type: str
    id_token: str | None = None


@dataclass(frozen=True)
class Identity:
    """Who the user is at the provider: `sub` identifies the account; `email` and `name` are for display."""

    sub: str
    email: str
    name: str

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], *, source: str = "userinfo") -> Identity:
        """From an ID token's claims or a userinfo-like answer: `sub` (or `id`, a string or a number), `email` and
        `name` (either may be missing or null). `ProviderError` (`bad_response`) when no account id is there; `source`
        names the answer in that error."""
        sub = claims.get("sub") or claims.get("id")
        if not isinstance(sub, str | int) or sub == "":
            raise ProviderError("bad_response", "read_identity", f"no sub in the {source}")
        email = claims.get("email")
        name = claims.get("name")
        # Display-only fields, bounded so the encrypted record stays under Mattermost's 8 KiB limit.
        return cls(
            sub=str(sub),
            email=email[:MAX_EMAIL_LENGTH] if isinstance(email, str) else "",
            name=name[:MAX_NAME_LENGTH] if isinstance(name, str) else "",
        )

    @property
    def account_name(self) -> str:
        """The account as its user knows it: its email (what the provider's account chooser shows), else the person's
        name, else the account's id."""
        return self.email or self.name or self.sub


class GrantTokens(Protocol):
    """The tokens of one grant: a `TokenGrant`, or the record stored from one."""

    @property
    def access_token(self) -> str: ...

    @property
    def refresh_token(self) -> str | None: ...


class OAuth2Provider:
    # How users read the provider's name, and the slash command named after it (`/<command>`).
    name = "OAuth2"
    command = "oauth2"
    # Defaults of the OAUTH2_* settings. An empty revoke_url: the provider offers no revocation endpoint. An empty
    # issuer: ID tokens are not read, and the identity always comes from userinfo.
    authorize_url = ""
    token_url = ""
    revoke_url = ""
    userinfo_url = ""
    issuer = ""
    scopes: tuple[str, ...] = ()
    # Whether a refresh answer may carry a new refresh token and spend the old one (Okta, Auth0, Keycloak can; Google
    # does not). Then a refresh first re-reads the stored record inside the refresh lock. Assumed unless a provider's
    # class says otherwise: wrongly assuming it costs a round trip, wrongly denying it loses grants.
    rotates_refresh_tokens = True
    # Extra query parameters of the authorization URL.
    authorization_params: Mapping[str, str] = MappingProxyType({})
    # Where an admin registers the app as an OAuth2 client, and where a user removes its access by hand.
    console_url = ""
    manage_access_url = ""
    # Other spellings of a scope in the token answer's `scope`, each mapped to the name the app asks for (a provider
    # may answer `email` with a URL).
    scope_aliases: Mapping[str, str] = MappingProxyType({})
    # Other spellings of the default `issuer` that the provider also writes in its ID tokens.
    issuer_aliases: tuple[str, ...] = ()

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
        issuer: str = "",
        rotates_refresh_tokens: bool | None = None,
    ) -> None:
        self.authorize_url = authorize_url
        self.token_url = token_url
        self.revoke_url = revoke_url
        self.userinfo_url = userinfo_url
        self.issuer = issuer
        if rotates_refresh_tokens is not None:  # an admin's override (OAUTH2_ROTATES_REFRESH_TOKENS); else the class's
            self.rotates_refresh_tokens = rotates_refresh_tokens
        self.scopes = tuple(scopes)
        self._session = session
        self._timeout = timeout

    def authorization_url(self, *, client_id: str, redirect_uri: str, state: str, code_challenge: str) -> str:
        """The URL the plugin redirects the browser to. `state` is the plugin's, passed through unchanged."""
        return WebApplicationClient(client_id).prepare_request_uri(
            self.authorize_url,
            redirect_uri=redirect_uri,
            scope=list(self.scopes),
            state=state,
            code_challenge=code_challenge,
            code_challenge_method="S256",
            **self.authorization_params,
        )

    def granted_scopes(self, scope: str) -> frozenset[str]:
        """The scopes a token answer's `scope` grants, each spelled as the app asks for it. An answer without `scope`
        grants what was asked (RFC 6749 section 5.1); a provider with granular consent says what the user ticked."""
        names = scope.split() if scope.strip() else self.scopes
        return frozenset(self.scope_aliases.get(name, name) for name in names)

    def missing_scopes(self, scope: str, needed: Sequence[str]) -> tuple[str, ...]:
        """Those of `needed` that the grant `scope` does not include."""
        granted = self.granted_scopes(scope)
        return tuple(name for name in needed if self.scope_aliases.get(name, name) not in granted)

    def exchange_code(
        self, *, client_id: str, client_secret: str, redirect_uri: str, code: str, code_verifier: str
    ) -> TokenGrant:
        # No `scope` on this session: the provider may add or rename scopes (Google adds `openid` and spells
        # `email` as a URL), and oauthlib would raise on the difference. What was granted is in the answer.
        oauth = self._oauth_session(client_id, redirect_uri=redirect_uri)
        token = self._token_call(
            "exchange_code",
            lambda: oauth.fetch_token(
                self.token_url, code=code, client_secret=client_secret, code_verifier=code_verifier, timeout=self._timeout
            ),
        )
        return _grant_from(token, previous_refresh_token=None)

    def refresh(self, *, client_id: str, client_secret: str, refresh_token: str) -> TokenGrant:
        # Waits for the answer as long as the call can, not just the usual timeout: a provider that rotates refresh
        # tokens spends this one whether or not its answer arrives, and the new one exists only in that answer.
        oauth = self._oauth_session(client_id)
        timeout = max(self._timeout, time_left() or 0.0)
        token = self._token_call(
            "refresh",
            lambda: oauth.refresh_token(
                self.token_url, refresh_token=refresh_token, auth=(client_id, client_secret), timeout=timeout
            ),
        )
        # A provider that does not rotate (Google) answers without a refresh token: keep ours.
        return _grant_from(token, previous_refresh_token=refresh_token)

    def revoke_grant(self, tokens: GrantTokens, *, client_id: str, client_secret: str) -> RevokeOutcome:
        """End the whole grant `tokens` belong to, best effort: revoking its refresh token ends it (RFC 7009 section
        2.1); without one, its access token is all there is to revoke."""
        return self.revoke(tokens.refresh_token or tokens.access_token, client_id=client_id, client_secret=client_secret)

    # -- hooks --------------------------------------------------------------------------------------

    def revoke(self, token: str, *, client_id: str, client_secret: str) -> RevokeOutcome:
        """End the grant, best effort: `revocation_request` sent with the app's session and timeout. Never raises, since
        it runs after the record is cleared: "revoked" on any 2xx answer, "unconfirmed" on another answer or a network
        failure, "unsupported" when the provider has no revocation endpoint (an empty `revoke_url`)."""
        if not self.revoke_url:
            return "unsupported"
        try:
            request = self.revocation_request(token, client_id=client_id, client_secret=client_secret)
            response = self._session.request(
                request.method,
                request.url,
                params=request.params,
                data=request.data,
                json=request.json,
                headers=request.headers,
                auth=request.auth,
                timeout=self._timeout,
            )
        except (requests.RequestException, UnicodeError) as exc:  # UnicodeError: a client id or secret that is not latin-1
            log.warning("token revocation failed: %s", type(exc).__name__)
            return "unconfirmed"
        if not 200 <= response.status_code < 300:
            log.warning("token revocation answered %s", response.status_code)
            return "unconfirmed"
        return "revoked"

    def identity(self, grant: TokenGrant, *, client_id: str) -> Identity:
        """Who the user is at the provider. From the ID token the token endpoint just sent, when there is one: it came
        over TLS straight from the provider, which OpenID Connect Core 3.1.3.7 accepts in place of checking its
        signature, so `iss`, `aud` and `exp` are what is left to check. Otherwise (or if they fail), from userinfo."""
        if grant.id_token and self.issuer:
            try:
                claims = jwt.decode(
                    grant.id_token,
                    # With the signature unchecked PyJWT checks no claim unless told: these three are the check.
                    options={
                        "verify_signature": False,
                        "verify_iss": True,
                        "verify_aud": True,
                        "verify_exp": True,
                        "require": ["iss", "aud", "exp", "sub"],
                    },
                    audience=client_id,
                    issuer=self._issuers(),
                )
            except jwt.PyJWTError as exc:
                log.warning("the ID token was not usable (%s): reading userinfo instead", type(exc).__name__)
            else:
                return Identity.from_claims(claims, source="id_token")
        return self.userinfo(grant.access_token)

    def userinfo(self, access_token: str) -> Identity:
        """OpenID Connect userinfo (`sub`, or `id`; `email`; `name`). A provider whose user endpoint says it otherwise
        overrides this, reads its answer with `get_json` and builds the identity with `Identity.from_claims`."""
        return Identity.from_claims(self.get_json(self.userinfo_url, access_token, operation="read_identity"))

    def revocation_request(self, token: str, *, client_id: str, client_secret: str) -> requests.Request:
        """The request that revokes `token` (RFC 7009: a form POST to `revoke_url`, the client authenticated with HTTP
        basic when it has a secret). Revoking the refresh token ends the whole grant. A provider that revokes another
        way overrides this; `revoke` sends its method, URL, params, data, json, headers and auth, and judges the answer."""
        return requests.Request(
            "POST", self.revoke_url, data={"token": token}, auth=(client_id, client_secret) if client_secret else None
        )

    def _issuers(self) -> list[str]:
        """The `iss` values accepted in an ID token: the configured issuer, and its other spellings when it is the
        provider's own (not one an admin configured)."""
        if self.issuer == type(self).issuer:
            return [self.issuer, *self.issuer_aliases]
        return [self.issuer]

    # -- APIs ---------------------------------------------------------------------------------------

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
            raise ProviderError("unauthorized", operation, "unsendable token") from None
        if response.status_code == 401:
            raise ProviderError("unauthorized", operation)
        if response.status_code == 403:
            raise ProviderError(_forbidden_reason(response), operation, _error_code(response))
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderError("unavailable", operation, f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise ProviderError("bad_response", operation, _error_code(response))
        try:
            body = response.json()
        except ValueError:
            raise ProviderError("bad_response", operation, "not JSON") from None
        if not isinstance(body, dict):
            raise ProviderError("bad_response", operation, "not a JSON object")
        return body

    # -- internals ----------------------------------------------------------------------------------

    def _oauth_session(self, client_id: str, **kwargs: Any) -> OAuth2Session:
        oauth = _TokenSession(client_id, **kwargs)
        for prefix, adapter in self._session.adapters.items():
            oauth.mount(prefix, adapter)
        oauth.headers.update(self._session.headers)
        # A token endpoint that fails (5xx, HTML error page) must not be parsed as a token answer.
        oauth.register_compliance_hook("access_token_response", _raise_on_server_error)
        oauth.register_compliance_hook("refresh_token_response", _raise_on_server_error)
        return oauth

    @staticmethod
    def _token_call(operation: str, call: Callable[[], Any]) -> dict[str, Any]:
        try:
            token = call()
        except ProviderError as exc:
            raise ProviderError(exc.reason, operation, exc.detail) from None
        except OAuth2Error as exc:
            reason = exc.error if exc.error in ("invalid_grant", "invalid_client") else "rejected"
            code = exc.error if isinstance(exc.error, str) and _ERROR_CODE.fullmatch(exc.error) else ""
            raise ProviderError(reason, operation, code) from None
        except requests.RequestException as exc:
            raise ProviderError("unavailable", operation, type(exc).__name__) from None
        except ValueError as exc:  # oauthlib: not JSON, or no access_token
            raise ProviderError("bad_response", operation, type(exc).__name__) from None
        return dict(token)


class _TokenSession(OAuth2Session, AppSession):
    """requests-oauthlib's session under the app session's rules: the call's deadline, no redirects, no cookies,
    the environment read once."""


def _raise_on_server_error(response: requests.Response) -> requests.Response:
    if response.status_code >= 500 or response.status_code == 429:
        raise ProviderError("unavailable", "", f"HTTP {response.status_code}")
    content_type = response.headers.get("Content-Type", "")
    if response.status_code != 200 and "json" not in content_type:
        raise ProviderError("bad_response", "", f"HTTP {response.status_code}")
    return response


def _grant_from(token: dict[str, Any], *, previous_refresh_token: str | None) -> TokenGrant:
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ProviderError("bad_response", "read_token", "no access_token")
    refresh_token = token.get("refresh_token") or previous_refresh_token
    expires_at = token.get("expires_at")
    if not isinstance(expires_at, int | float):
        expires_in = token.get("expires_in")
        expires_at = time.time() + float(expires_in) if isinstance(expires_in, int | float) else None
    scope = token.get("scope") or ""
    if isinstance(scope, list):
        scope = " ".join(scope)
    # RFC 6749 separates scopes with spaces, GitHub with commas ("read:user,user:email"): stored space-separated.
    scope = " ".join(str(scope).replace(",", " ").split())
    return TokenGrant(
        access_token=access_token,
        refresh_token=refresh_token if isinstance(refresh_token, str) else None,
        expires_at=float(expires_at) if expires_at is not None else None,
        scope=scope,
        token_type=str(token.get("token_type") or "Bearer"),
        id_token=token["id_token"] if isinstance(token.get("id_token"), str) else None,
    )


# What a 403 means, from the reasons an API names (RFC 6750's `insufficient_scope`; Google's `errors[].reason` and
# `details[].reason`): the grant lacks a scope (reconnecting and ticking the box helps), or the API is switched off
# for the OAuth2 client's project (only an admin can help).
_SCOPE_REASONS = frozenset({"insufficient_scope", "insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
_DISABLED_REASONS = frozenset({"accessNotConfigured", "SERVICE_DISABLED"})


def _forbidden_reason(response: requests.Response) -> str:
    reasons = set(_reasons(response))
    if "insufficient_scope" in response.headers.get("WWW-Authenticate", ""):
        reasons.add("insufficient_scope")
    if reasons & _DISABLED_REASONS:
        return "api_disabled"
    if reasons & _SCOPE_REASONS:
        return "insufficient_scope"
    return "forbidden"


def _reasons(response: requests.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        return []
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, str):
        return [err]
    if not isinstance(err, dict):
        return []
    items = [item for key in ("errors", "details") if isinstance(err.get(key), list) for item in err[key]]
    return [item["reason"] for item in items if isinstance(item, dict) and isinstance(item.get("reason"), str)]


def _error_code(response: requests.Response) -> str:
    """The API's error code, if its answer names one (`{"error": {"status": "PERMISSION_DENIED"}}` or
    `{"error": "insufficient_scope"}`); never its free text."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    err = body.get("error") if isinstance(body, dict) else None
    code = err.get("status") if isinstance(err, dict) else err
    return code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else f"HTTP {response.status_code}"
