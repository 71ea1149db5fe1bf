"""Failures talking to the OAuth2 provider or its APIs, each with a reason code and no wording.

`reason`: `invalid_grant` (the code or refresh token is used, expired or revoked), `invalid_client` (wrong client id
or secret), `rejected` (another OAuth2 error), `unauthorized` (an API refused the access token), `insufficient_scope` (the
grant lacks a scope the call needs), `api_disabled` (the API is not enabled for the OAuth2 client), `forbidden`
(another refusal), `unavailable` (timeout, connection error, 5xx, 429), `bad_response` (an answer we cannot read).
`operation`: `exchange_code`, `refresh`, `read_identity`, or the API call's own name (`list_events`).
`detail` is a code (an OAuth2 error code, an API's error status, an exception's name), never the provider's text.
"""

from __future__ import annotations


class ProviderError(Exception):
    def __init__(self, reason: str, operation: str, detail: str = "") -> None:
        self.reason = reason
        self.operation = operation
        self.detail = detail
        super().__init__(f"{operation or 'provider call'} failed: {reason}" + (f" ({detail})" if detail else ""))
