"""One catalogue for every sentence: each reason code the app's packages can raise has its sentence, each sentence is
used, and none is left with an unfilled `{placeholder}`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mattermost_apps
from handlers import messages
from mattermost_apps import BadCallRequest, CallTooLarge, JWTRejected, MattermostError
from provider import ProviderError
from tests.names import CMD, PROVIDER
from user_tokens import TokenUnavailable

ROOT = Path(__file__).resolve().parents[2]
SDK = Path(mattermost_apps.__file__).parent
SOURCES = {
    p: p.read_text(encoding="utf-8")
    for d in (SDK, ROOT / "provider", ROOT / "user_tokens", ROOT / "handlers")
    for p in d.glob("*.py")
}
SOURCES[ROOT / "commands.py"] = (ROOT / "commands.py").read_text(encoding="utf-8")
SOURCES |= {p: p.read_text(encoding="utf-8") for p in (ROOT / "templates").glob("*.html")}


def raised(exception: str) -> set[str]:
    """The reason codes `exception` is raised with anywhere in the code."""
    return {m for text in SOURCES.values() for m in re.findall(rf'{exception}\(\s*"([a-z_]+)"', text)}


def literal_operations(pattern: str) -> set[str]:
    return {m for text in SOURCES.values() for m in re.findall(pattern, text) if m}


UNEXPECTED = messages.text("unexpected")


def assert_worded(sentence: str) -> None:
    assert sentence and sentence != UNEXPECTED and "{" not in sentence and "}" not in sentence, sentence


@pytest.mark.parametrize("reason", sorted(raised("JWTRejected")))
def test_every_jwt_refusal_has_a_sentence(reason):
    assert_worded(messages.failure(JWTRejected(reason)))


@pytest.mark.parametrize("reason", sorted(raised("BadCallRequest")))
def test_every_bad_call_has_a_sentence(reason):
    assert_worded(messages.failure(BadCallRequest(reason, field="values.x", expected="string")))


@pytest.mark.parametrize("reason", sorted(raised("TokenUnavailable")))
def test_every_token_failure_has_a_sentence(reason):
    assert_worded(messages.failure(TokenUnavailable(reason)))


MATTERMOST_OPERATIONS = literal_operations(r'_request\(\s*"([a-z_0-9]+)"') | {"authenticate"}


@pytest.mark.parametrize("reason", sorted(raised("MattermostError") | {"refused", "failed"}))
@pytest.mark.parametrize("operation", sorted(MATTERMOST_OPERATIONS))
def test_every_mattermost_failure_of_every_operation_has_a_sentence(reason, operation):
    assert_worded(messages.failure(MattermostError(reason, operation, status=500, detail="9000 bytes")))


PROVIDER_OPERATIONS = literal_operations(r'operation="([a-z_]+)"') | literal_operations(r'_token_call\(\s*"([a-z_]+)"')
# The provider's own steps, which every author keeps: each has its phrase. An API call a command adds may have one;
# without it the sentence says "do that", which still reads.
OWN_STEPS = {"exchange_code", "refresh", "read_identity", "read_token"}


@pytest.mark.parametrize("reason", sorted(raised("ProviderError") | {"invalid_grant", "invalid_client", "rejected"}))
@pytest.mark.parametrize("operation", sorted(PROVIDER_OPERATIONS | OWN_STEPS | {"an_api_call_with_no_phrase"}))
def test_every_provider_failure_of_every_operation_has_a_sentence(reason, operation):
    sentence = messages.failure(ProviderError(reason, operation, "PERMISSION_DENIED"))
    assert_worded(sentence)
    if operation in OWN_STEPS:
        assert messages.text("provider_operation.other") not in sentence, f"no phrase for the operation {operation}"


def test_the_body_limit_has_a_sentence():
    assert messages.failure(CallTooLarge(64 * 1024)) == "The request body is larger than 64 KiB."


def test_an_unknown_error_gets_the_generic_sentence():
    assert messages.failure(RuntimeError("ya29.a-token")) == UNEXPECTED


# Keys built from a reason or an operation code at run time: `f"jwt.{exc.reason}"` and the like.
DYNAMIC_FAMILIES = (
    "jwt.",
    "call.",
    "mattermost.",
    "mattermost_operation.",
    "provider.",
    "provider_operation.",
    "disconnect.",
    "binding.needs_",
    "permission.",
)


@pytest.mark.parametrize("key", sorted(messages.EN))
def test_every_sentence_is_used(key):
    # Everything but the catalogue itself: the handlers, and the lookup functions below it in messages.py.
    code = "\n".join(text.split("_DEFAULTS = ")[-1] if path.name == "messages.py" else text for path, text in SOURCES.items())
    used = f'"{key}"' in code or key.startswith(DYNAMIC_FAMILIES) or key in raised("TokenUnavailable")
    assert used, f"{key} is in the catalogue but nothing says it"


# -- the user's locale ---------------------------------------------------------------------------------------------


def test_every_call_that_answers_with_a_sentence_asks_for_the_locale():
    import json

    from commands import COMMANDS
    from handlers.configure import SUBMIT_EXPAND
    from services import MANIFEST_TEMPLATE

    manifest = json.loads(MANIFEST_TEMPLATE.read_text(encoding="utf-8"))
    expands = [dict(call.expand) for c in COMMANDS for call, _handler in c.calls()] + [SUBMIT_EXPAND]
    expands += [manifest[name]["expand"] for name in ("bindings", "on_install", "get_oauth2_connect_url", "on_oauth2_complete")]
    assert all(expand.get("locale") == "all" for expand in expands), expands


def test_a_translation_is_a_catalogue_and_no_handler_changes(plugin, monkeypatch):
    # The locale comes with the call; the lookup reads it from the call being handled.
    monkeypatch.setitem(messages.CATALOGUES, "fr", {"help.intro": "**/{command}** relie votre compte {provider} à Mattermost."})
    from mattermost_apps.testing import User
    from tests.conftest import ALICE, HELP_EXPAND, paths

    french = User(**{**ALICE.__dict__, "locale": "fr"})
    lines = plugin.call(paths.HELP, HELP_EXPAND, user=french)["text"].splitlines()
    assert lines[0] == f"**{CMD}** relie votre compte {PROVIDER} à Mattermost."
    assert lines[1].startswith(f"- `{CMD} ")  # a sentence the catalogue lacks falls back to English
    assert plugin.call(paths.HELP, HELP_EXPAND)["text"].startswith(f"**{CMD}** connects your {PROVIDER} account")


# -- where each sentence is shown ----------------------------------------------------------------------------------

# What markdown would show literally in a plain label: code spans, emphasis, links.
MARKUP = re.compile(r"`|\*|\[[^\]]*\]\(|(?<![\w/])_\w")


class _Any(dict):
    """Fills any placeholder with a plain word."""

    def __missing__(self, key: str) -> str:
        return "word"


@pytest.mark.parametrize("key", sorted(set(messages.EN) - messages.MARKDOWN))
def test_every_sentence_shown_as_plain_text_has_no_markdown(key):
    # The web client shows an error answer as a plain label and the plugin's OAuth2 pages are text/plain: markdown
    # there shows raw. Only the sentences in messages.MARKDOWN (ok texts, direct messages, form help) may use it.
    sentence = messages.EN[key].format_map(_Any({**messages._DEFAULTS}))
    assert not MARKUP.search(sentence), f"{key}: {sentence}"


def test_every_failure_is_worded_in_plain_text():
    # Every reason code each package raises, as `failure` words it for an error answer.
    failures: list[Exception] = [JWTRejected(r) for r in raised("JWTRejected")]
    failures += [TokenUnavailable(r) for r in raised("TokenUnavailable")]
    failures += [ProviderError(r, "list_events", "CODE") for r in raised("ProviderError")]
    failures += [MattermostError(r, "store_oauth2_user") for r in raised("MattermostError")]
    assert len(failures) > 20
    for exc in failures:
        assert not MARKUP.search(messages.failure(exc)), messages.failure(exc)


@pytest.mark.parametrize(
    ("label", "index"),
    [(c.label, i) for c in __import__("commands").COMMANDS for i, _ in enumerate(c.calls())],
    ids=str,
)
def test_every_command_answers_in_the_users_locale(plugin, monkeypatch, label, index, connect_user):
    # Each command's expand brings the user's locale (the plugin falls back to the server's when acting_user is
    # expanded at "id" only): a user whose locale is "fr" reads the French catalogue, whatever the command answers.
    from commands import COMMANDS
    from mattermost_apps.testing import User
    from tests.conftest import ADMIN

    french_catalogue = {key: "FR " + sentence for key, sentence in messages.EN.items()}
    monkeypatch.setitem(messages.CATALOGUES, "fr", french_catalogue)
    command = next(c for c in COMMANDS if c.label == label)
    french = User(**{**ADMIN.__dict__, "locale": "fr"})
    plugin.tokens[french.id] = plugin.tokens[ADMIN.id]
    call, _handler = command.calls()[index]  # its submit, or a lookup
    answer = plugin.call(call.path, dict(call.expand), user=french)  # not configured, not connected: a sentence each
    said = answer.get("text") or answer.get("form", {}).get("title", "")
    assert said.startswith("FR ") or "\nFR " in said or said.startswith("**FR"), answer
