"""The browser side: a minimal "Mattermost webapp", and the plugin's browser routes at v1.2.2: remote OAuth2
(`server/httpin/oauth2.go`, `server/proxy/invoke_oauth2.go`) and static assets (`server/httpin/static.go`)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import requests
from flask import Blueprint, Response, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse  # what flask.redirect returns: flask's Response's base

from mattermost_apps.testing import PLUGIN_PATH, User

from . import golang
from .commands import run_command, submit
from .manifest_rules import InvalidInput, clean_static_url
from .plugin import SUCCESS_PAGE, HTTPError, Plugin, clean_url, not_installed, unauthorized
from .rest import current_session, text_error

COOKIE = "MMAUTHTOKEN"
# A markdown link, or a bare URL (the web client links those too), in one pass so a link is never linked twice.
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)|(https?://[^\s<]*[^\s<.,:;!?)\]])")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?![*\s])([^*\n]+?)(?<![*\s])\*(?![*\w])")
_CODE = re.compile(r"(`[^`\n]*`)")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:48em;margin:1em auto;line-height:1.4}}
.error{{color:#b00020}} #response,.error{{border:1px solid #ccc;padding:.5em;margin:.5em 0}}
label{{display:block;margin-top:.5em}} .post{{border-bottom:1px solid #eee;padding:.3em 0}}</style>
</head><body>
{body}
</body></html>
"""


def render_markdown(text: str) -> str:
    """Escape HTML first, then links (bare URLs too), **bold**, *italic*, `code`, `- ` list items and newlines."""
    out: list[str] = []
    in_list = False
    for line in html.escape(text).split("\n"):
        item = line.startswith(("- ", "* "))
        if item and not in_list:
            out.append("<ul>")
        if not item and in_list:
            out.append("</ul>")
        in_list = item
        out.append(f"<li>{_inline(line[2:])}</li>" if item else _inline(line) + "<br>")
    if in_list:
        out.append("</ul>")
    return "\n".join(out).removesuffix("<br>")


def _inline(escaped: str) -> str:
    parts = _CODE.split(escaped)
    for index, part in enumerate(parts):
        if index % 2:
            parts[index] = f"<code>{part[1:-1]}</code>"
        else:
            parts[index] = _ITALIC.sub(r"<em>\1</em>", _BOLD.sub(r"<strong>\1</strong>", _LINK.sub(_link, part)))
    return "".join(parts)


def _link(match: re.Match[str]) -> str:
    if match.group(3):
        return f'<a href="{match.group(3)}">{match.group(3)}</a>'
    label, url = match.group(1), match.group(2)
    if not url.startswith(("http://", "https://", "/")):
        return match.group(0)
    return f'<a href="{url}">{label}</a>'


def page(title: str, body: str) -> str:
    return _PAGE.format(title=html.escape(title), body=body)


def render_response(response: dict[str, Any]) -> str:
    kind = response.get("type")
    if kind == "error":
        return f'<div class="error">{html.escape(str(response.get("text") or "Error"))}</div>'
    if kind == "form":
        return render_form(response.get("form") or {})
    if kind == "navigate":
        url = html.escape(str(response.get("navigate_to_url", "")))
        return f'<div id="response"><a href="{url}">{url}</a></div>'
    return f'<div id="response">{render_markdown(str(response.get("text") or ""))}</div>'


def render_form(form: dict[str, Any], error: str = "", *, typed: Any = None, field_errors: dict[str, Any] | None = None) -> str:
    """The modal: `header` and each field's `description` as markdown, as the web client shows them. After a refused
    submit, `typed` (the posted form) keeps what the user typed, passwords aside, and `field_errors` go under their
    fields, while `error` shows above the buttons."""
    rows: list[str] = []
    for field in form.get("fields") or []:
        name = html.escape(field["name"])
        label = html.escape(str(field.get("modal_label") or field.get("label") or field["name"]))
        value = field.get("value")
        if typed is not None and field.get("type", "text") != "markdown":
            value = typed.get(field["name"]) if field.get("type") != "bool" else typed.get(field["name"]) == "true"
        required = " required" if field.get("is_required") else ""
        description = field.get("description")
        hint = f"<small>{render_markdown(str(description))}</small>" if description else ""
        if field_error := (field_errors or {}).get(field["name"]):
            hint += f'<div class="error field-error">{render_markdown(str(field_error))}</div>'
        kind = field.get("type", "text")
        if kind == "markdown":
            rows.append(f'<div class="markdown">{render_markdown(str(description or value or ""))}</div>')
            continue
        if kind == "bool":
            checked = " checked" if value in (True, "true") else ""
            rows.append(f'<label><input type="checkbox" name="{name}" value="true"{checked}> {label}</label>{hint}')
        elif kind == "static_select":
            selected = value.get("value") if isinstance(value, dict) else value
            options = "".join(
                f'<option value="{html.escape(str(o["value"]))}"{" selected" if o["value"] == selected else ""}>'
                f"{html.escape(str(o['label']))}</option>"
                for o in field.get("options", [])
            )
            rows.append(
                f'<label for="f-{name}">{label}</label><select id="f-{name}" name="{name}"{required}>'
                f'<option value=""></option>{options}</select>{hint}'
            )
        elif field.get("subtype") == "textarea":
            rows.append(
                f'<label for="f-{name}">{label}</label><textarea id="f-{name}" name="{name}"{required}>'
                f"{html.escape(str(value or ''))}</textarea>{hint}"
            )
        else:
            input_type = "password" if field.get("subtype") == "password" else "text"
            shown = "" if input_type == "password" else html.escape(str(value or ""))
            rows.append(
                f'<label for="f-{name}">{label}</label><input id="f-{name}" type="{input_type}" name="{name}" '
                f'value="{shown}"{required}>{hint}'
            )
    title = html.escape(str(form.get("title") or "Form"))
    header = f'<div class="header">{render_markdown(str(form["header"]))}</div>' if form.get("header") else ""
    problem = f'<div class="error">{render_markdown(error)}</div>' if error else ""
    return (
        f'<form id="app-form" method="post" action="/form"><h2>{title}</h2>{header}'
        f'<input type="hidden" name="__form" value="{html.escape(json.dumps(form))}">'
        f'{"".join(rows)}{problem}<p><button type="submit">Submit</button></p></form>'
    )


def form_values(form: dict[str, Any], submitted: Any) -> tuple[dict[str, Any], str]:
    """The values the webapp sends for a submitted form, or an error for a missing required field."""
    values: dict[str, Any] = {}
    for field in form.get("fields") or []:
        name, kind = field["name"], field.get("type", "text")
        if kind == "markdown":
            continue
        if kind == "bool":
            values[name] = submitted.get(name) == "true"
            continue
        raw = submitted.get(name, "")
        if kind == "static_select":
            option = next((o for o in field.get("options", []) if o["value"] == raw), None)
            if option is not None:
                values[name] = {"label": option["label"], "value": option["value"]}
        elif raw:
            values[name] = raw
        if field.get("is_required") and name not in values:
            return {}, f"{field.get('modal_label') or field.get('label') or name}: this field is required."
    return values, ""


def webapp(plugin: Plugin) -> Blueprint:
    web = Blueprint("webapp", __name__)
    store = plugin.store

    def signed_in() -> User | None:
        _session, user = current_session(plugin)
        return None if user is None or user.is_bot else user

    def messages_html(user: User) -> str:
        with store.lock:
            channels = {cid for cid, members in store.channels.items() if user.id in members}
            posts = [p for p in store.posts if p["channel_id"] in channels]
            names = {uid: u.username for uid, u in store.users.items()}
        items = "".join(
            f'<li class="post"><span class="sender">@{html.escape(names.get(p["user_id"], p["user_id"]))}</span>'
            f'<div class="message">{render_markdown(p["message"])}</div></li>'
            for p in reversed(posts)
        )
        return f'<h2>Direct messages</h2><ul id="messages">{items}</ul>'

    def home_page(user: User, result: str = "", command: str = "") -> str:
        body = (
            f'<header>Signed in as <strong id="username">{html.escape(user.username)}</strong> '
            '<form method="post" action="/logout" style="display:inline"><button type="submit">Log out</button></form>'
            "</header>"
            '<form id="command-form" method="post" action="/">'
            f'<input type="text" name="command" size="50" value="{html.escape(command)}" placeholder="/command" autofocus>'
            '<button type="submit">Send</button></form>'
            f'<section id="result">{result}</section>{messages_html(user)}'
        )
        return page("Mattermost (emulated)", body)

    def login_page(error: str = "") -> str:
        problem = f'<div class="error">{html.escape(error)}</div>' if error else ""
        return page(
            "Log in - Mattermost (emulated)",
            (
                f'<h1>Mattermost (emulated)</h1>{problem}<form id="login-form" method="post" action="/login">'
                '<label for="username">Username</label><input id="username" type="text" name="username" autofocus>'
                '<label for="password">Password</label><input id="password" type="password" name="password">'
                '<p><button type="submit">Log in</button></p></form>'
            ),
        )

    @web.get("/login")
    def login_form() -> str:
        return login_page()

    @web.post("/login")
    def login() -> WerkzeugResponse | tuple[str, int]:
        user = store.user_by_name(request.form.get("username", "").strip())
        if user is None or user.is_bot:
            return login_page("Enter a valid username (sysadmin, alice or bob)."), 401
        response = redirect("/", code=302)
        response.set_cookie(COOKIE, store.create_session(user.id), httponly=True, samesite="Lax")
        return response

    @web.post("/logout")
    def logout() -> WerkzeugResponse:
        response = redirect("/login", code=302)
        response.delete_cookie(COOKIE)
        return response

    @web.get("/")
    def home() -> WerkzeugResponse | str:
        user = signed_in()
        return home_page(user) if user else redirect("/login", code=302)

    @web.post("/")
    def command() -> WerkzeugResponse | str:
        user = signed_in()
        if user is None:
            return redirect("/login", code=302)
        text = request.form.get("command", "")
        return home_page(user, render_response(run_command(plugin, user, text)), text)

    @web.post("/form")
    def submit_form() -> WerkzeugResponse | str:
        user = signed_in()
        if user is None:
            return redirect("/login", code=302)
        try:
            form = json.loads(request.form.get("__form", ""))
        except ValueError:
            return home_page(user, '<div class="error">The form could not be read.</div>')
        values, problem = form_values(form, request.form)
        if problem:
            return home_page(user, render_form(form, problem, typed=request.form))
        call = form.get("submit") or form.get("source") or {}
        response = submit(plugin, user, call, values)
        if response.get("type") == "error":
            # The modal stays open with what was typed: the error above the buttons, field errors under their fields.
            errors = (response.get("data") or {}).get("errors") if isinstance(response.get("data"), dict) else None
            text = str(response.get("text") or ("" if errors else "Error"))
            return home_page(user, render_form(form, text, typed=request.form, field_errors=errors))
        return home_page(user, render_response(response))

    @web.get("/messages")
    def messages() -> WerkzeugResponse | str:
        user = signed_in()
        if user is None:
            return redirect("/login", code=302)
        return page("Direct messages - Mattermost (emulated)", messages_html(user))

    return web


def oauth2_routes(plugin: Plugin) -> Blueprint:
    """`GET /apps/<id>/oauth2/remote/connect|complete`: the browser must carry the Mattermost session cookie."""
    routes = Blueprint("remote_oauth2", __name__, url_prefix=PLUGIN_PATH + "/apps/<app_id>")
    store = plugin.store

    def log(response: Response) -> Response:
        session, _user = current_session(plugin)
        store.log_rest_call(request.method, request.path, response.status_code, "session" if session else "none")
        return response

    @routes.get("/oauth2/remote/connect")
    def connect(app_id: str) -> Response:
        _session, user = current_session(plugin)
        try:
            url = plugin.oauth2_connect(app_id, user)
        except HTTPError as error:
            return log(text_error(error))
        return log(
            Response(
                f'<a href="{html.escape(url)}">Temporary Redirect</a>.\n',
                status=307,
                headers={"Location": url},
                mimetype="text/html",
            )
        )

    @routes.get("/oauth2/remote/complete")
    def complete(app_id: str) -> Response:
        _session, user = current_session(plugin)
        values = {key: request.args.get(key, "") for key in request.args}
        try:
            plugin.oauth2_complete(app_id, user, values)
        except HTTPError as error:
            return log(text_error(error))
        return log(Response(SUCCESS_PAGE, status=200, content_type="text/html"))

    @routes.get("/static/<name>")
    def static_asset(app_id: str, name: str) -> Response:
        """`Static`: the name cleaned, a signed-in user required (`GetApp`), the upstream status passed on, and
        the Content-Type copied from the request, not the app's answer."""
        _session, user = current_session(plugin)
        try:
            asset = clean_static_url(name)
        except (InvalidInput, golang.URLError) as exc:
            return text_error(HTTPError(400 if isinstance(exc, InvalidInput) else 500, str(exc)))
        if user is None:
            return text_error(unauthorized("user ID is required"))
        with store.lock:
            record = store.app
        if record is None or record.app_id != app_id:
            return text_error(not_installed(app_id))
        url = clean_url(f"{record.root_url}/static/{asset}")
        try:
            upstream = plugin.http.get(url, timeout=10)
        except requests.RequestException as exc:
            return text_error(HTTPError(502, f"failed to fetch: {url}, error: {exc}"))
        response = Response(upstream.content, status=upstream.status_code)
        response.headers["Content-Type"] = request.headers.get("Content-Type", "")
        return response

    return routes
