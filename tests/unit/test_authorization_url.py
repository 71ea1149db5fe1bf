"""OAuth2Provider.authorization_url builds, byte for byte, the URL oauthlib's WebApplicationClient builds.

It is built directly for speed (docs/performance.md); oauthlib stays the reference it is held to.
"""

from __future__ import annotations

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from oauthlib.oauth2 import InsecureTransportError, WebApplicationClient

from provider import OAuth2Provider

SCOPES = ["openid", "email", "profile", "https://www.googleapis.com/auth/calendar.readonly"]


def provider(authorize_url: str, scopes: list[str] = SCOPES) -> OAuth2Provider:
    return OAuth2Provider(
        authorize_url=authorize_url,
        token_url="https://t.test/token",
        revoke_url="https://t.test/revoke",
        userinfo_url="https://t.test/userinfo",
        scopes=scopes,
        session=requests.Session(),
        timeout=1,
    )


def oauthlib_url(authorize_url: str, scopes: list[str], client_id: str, redirect_uri: str, state: str, challenge: str) -> str:
    return WebApplicationClient(client_id).prepare_request_uri(
        authorize_url,
        redirect_uri=redirect_uri,
        scope=scopes,
        state=state,
        access_type="offline",
        prompt="consent",
        include_granted_scopes="true",
        code_challenge=challenge,
        code_challenge_method="S256",
    )


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
authorize_urls = st.sampled_from(
    [
        "https://accounts.google.com/o/oauth2/v2/auth",
        "https://idp.test/authorize?tenant=acme&x=",
        "https://idp.test/authorize?a=1+2&b=%C3%A9&a=3",
        "https://idp.test/o;p/authorize?q=1#frag",
        "https://idp.test:8443/",
        "https://idp.test",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    authorize_url=authorize_urls,
    client_id=text,
    redirect_uri=text,
    state=text,
    challenge=text,
    scopes=st.sampled_from([SCOPES, ["openid"], ["a b", "ü"]]),
)
def test_the_url_is_oauthlibs(authorize_url, client_id, redirect_uri, state, challenge, scopes):
    ours = provider(authorize_url, scopes).authorization_url(
        client_id=client_id, redirect_uri=redirect_uri, state=state, code_challenge=challenge
    )
    assert ours == oauthlib_url(authorize_url, scopes, client_id, redirect_uri, state, challenge)


def test_plain_http_is_refused_as_oauthlib_refuses_it(monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    with pytest.raises(InsecureTransportError):
        provider("http://idp.test/authorize").authorization_url(
            client_id="c", redirect_uri="https://r", state="s", code_challenge="x"
        )
