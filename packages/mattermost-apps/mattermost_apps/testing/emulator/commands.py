"""What the webapp does with a slash command typed for an app, submitted with Enter.

A port of `ParsedCommand.matchBinding` and `ParsedCommand.parseForm` (submit mode) and of
`AppCommandParser.composeCommandSubmitCall` from the webapp's
`components/suggestion/command_provider/app_command_parser/app_command_parser.ts`, and of `executeCommand`
(`actions/command.ts`), in mattermost/mattermost under `webapp/channels/src/`. Sub-commands and flags match
labels case-insensitively; a binding with `submit` gets a form with no fields, so it takes no flag and no
word; a binding with an embedded form is submitted at once, its values parsed from the command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import Enum
from typing import Any

from mattermost_apps.testing import User

from . import webclient
from .plugin import CallFailed, Plugin


class State(Enum):
    START = "Start"
    COMMAND = "Command"
    END_COMMAND = "EndCommand"
    COMMAND_SEPARATOR = "CommandSeparator"
    START_PARAMETER = "StartParameter"
    PARAMETER_SEPARATOR = "ParameterSeparator"
    FLAG1 = "Flag1"
    FLAG = "Flag"
    FLAG_VALUE_SEPARATOR = "FlagValueSeparator"
    START_VALUE = "StartValue"
    NONSPACE_VALUE = "NonspaceValue"
    QUOTED_VALUE = "QuotedValue"
    TICK_VALUE = "TickValue"
    END_VALUE = "EndValue"
    END_QUOTED_VALUE = "EndQuotedValue"
    END_TICKED_VALUE = "EndTickedValue"
    MULTISELECT_START = "MultiselectStart"
    MULTISELECT_START_VALUE = "MultiselectStartValue"
    MULTISELECT_NONSPACE_VALUE = "MultiselectNonspaceValue"
    MULTISELECT_QUOTED_VALUE = "MultiselectQuotedValue"
    MULTISELECT_TICK_VALUE = "MultiselectTickValue"
    MULTISELECT_END_VALUE = "MultiselectEndValue"
    MULTISELECT_END_QUOTED_VALUE = "MultiselectEndQuotedValue"
    MULTISELECT_END_TICKED_VALUE = "MultiselectEndTickedValue"
    MULTISELECT_VALUE_SEPARATOR = "MultiselectValueSeparator"
    MULTISELECT_NEXT_VALUE = "MultiselectNextValue"
    REST = "Rest"
    ERROR = "Error"


# The parser's messages (the webapp's English defaults).
NO_BINDINGS = "No command bindings."
NO_SLASH = "Command must start with a `/`."
NO_MATCH = "`{command}`: No matching command found in this workspace."
NON_LEAF = "You must select a subcommand."
INVALID_BINDING = "Parsing error: unreachable: invalid binding, neither or both Submit and Form"
NO_ARGUMENT = "Unable to identify argument."
MISSING_VALUE = "Field value is missing."
UNEXPECTED_FLAG = "Command does not accept flag `{flag}`."
MULTIPLE_EQUAL = "Multiple `=` signs are not allowed."
UNEXPECTED_WHITESPACE = "Unreachable: Unexpected whitespace."
UNEXPECTED_LIST = "Unexpected list opening."
MISSING_QUOTE = "Matching double quote expected before end of input."
MISSING_TICK = "Matching tick quote expected before end of input."
EMPTY_VALUE = "Empty values are not allowed"
MISSING_LIST_END = "Expected list closing token."
UNEXPECTED_COMMA = "Unexpected comma."
UNEXPECTED_CHARACTER = "Unexpected character."
MISSING_SOURCE = "Form has neither submit nor source."


@dataclass
class ParsedCommand:
    command: str
    state: State = State.START
    i: int = 0
    incomplete: str = ""
    incomplete_start: int = 0
    binding: dict[str, Any] | None = None
    resolved_form: dict[str, Any] | None = None
    field: dict[str, Any] | None = None
    position: int = 0
    values: dict[str, Any] = dataclass_field(default_factory=dict)
    location: str = ""
    error: str = ""
    # the webapp fetches a form that has a source but no submit: None, or why that failed
    fetch_form: Callable[[dict[str, Any]], str | None] | None = None

    def as_error(self, message: str) -> ParsedCommand:
        self.state, self.error = State.ERROR, message
        return self

    def char(self) -> str:
        return self.command[self.i] if self.i < len(self.command) else ""

    def match_binding(self, command_bindings: list[dict[str, Any]]) -> ParsedCommand:
        """Walk the sub-commands by label, case-insensitively, as far as the words match."""
        if not command_bindings:
            return self.as_error(NO_BINDINGS)
        bindings = command_bindings
        done = False
        while not done:
            c = self.char()
            if self.state is State.START:
                if c != "/":
                    return self.as_error(NO_SLASH)
                self.i += 1
                self.incomplete, self.incomplete_start, self.state = "", self.i, State.COMMAND
            elif self.state is State.COMMAND:
                if c in ("", " ", "\t"):
                    self.state = State.END_COMMAND
                else:
                    self.incomplete += c
                    self.i += 1
            elif self.state is State.END_COMMAND:
                found = next((b for b in bindings if b.get("label", "").lower() == self.incomplete.lower()), None)
                if found is None:
                    done = True  # this word is no sub-command: the last match stands
                    continue
                self.binding = found
                self.location += "/" + found["label"]
                bindings = found.get("bindings") or []
                self.state = State.COMMAND_SEPARATOR
            elif self.state is State.COMMAND_SEPARATOR:
                if c == "":
                    done = True
                if c in (" ", "\t"):
                    self.i += 1
                else:
                    self.incomplete, self.incomplete_start, self.state = "", self.i, State.COMMAND

        if self.binding is None:
            return self.as_error(NO_MATCH.format(command=self.command))
        if self.binding.get("bindings"):
            return self.as_error(NON_LEAF)
        has_submit, has_form = webclient.truthy(self.binding.get("submit")), webclient.truthy(self.binding.get("form"))
        if has_submit and not has_form:
            self.resolved_form = {"submit": self.binding["submit"]}  # an empty form: no fields, so no flags
        elif has_form and not has_submit:
            form = self.binding["form"]
            if not webclient.truthy(form.get("submit")):
                if not webclient.truthy(form.get("source")):
                    return self.as_error(MISSING_SOURCE)
                problem = self.fetch_form(self.binding) if self.fetch_form else None
                if problem is not None:
                    return self.as_error(problem)
            self.resolved_form = form  # the binding's own form, even after a fetch, as in the webapp
        else:
            return self.as_error(INVALID_BINDING)
        return self

    def parse_form(self) -> ParsedCommand:
        """Parse flags (`--label value`, `--label=value`) and positional values against the resolved form."""
        if self.state is State.ERROR or self.resolved_form is None:
            return self
        fields = [f for f in self.resolved_form.get("fields") or [] if f.get("type") != "markdown" and not f.get("readonly")]
        self.state = State.START_PARAMETER
        self.i = self.incomplete_start or 0
        flag_equals_used = False
        while True:
            c = self.char()
            state = self.state
            if state is State.START_PARAMETER:
                if c == "":
                    return self
                if c == "-":
                    self.state = State.FLAG1
                    self.i += 1
                elif c == "—":  # an em dash: two dashes as iOS types them
                    self.state = State.FLAG
                    self.i += 1
                    self.incomplete, self.incomplete_start, flag_equals_used = "", self.i, False
                else:
                    self.position += 1
                    found = next((f for f in fields if f.get("position") == self.position), None)
                    if found is None:
                        found = next((f for f in fields if f.get("position") == -1 and f.get("type") == "text"), None)
                        if found is None or self.values.get(found["name"]):
                            return self.as_error(NO_ARGUMENT)
                        self.incomplete_start, self.incomplete, self.field = self.i, "", found
                        self.state = State.REST
                        continue
                    self.field = found
                    self.state = State.START_VALUE
            elif state is State.REST:
                if self.field is None:
                    return self.as_error(MISSING_VALUE)
                if c == "":
                    self.values[self.field["name"]] = self.incomplete
                    return self
                self.i += 1
                self.incomplete += c
            elif state is State.PARAMETER_SEPARATOR:
                self.incomplete_start = self.i
                if c == "":
                    self.state = State.START_PARAMETER
                    return self
                if c in (" ", "\t"):
                    self.i += 1
                else:
                    self.state = State.START_PARAMETER
            elif state is State.FLAG1:
                if c == "-":
                    self.i += 1
                self.state = State.FLAG
                self.incomplete, self.incomplete_start, flag_equals_used = "", self.i, False
            elif state is State.FLAG:
                if c in ("", " ", "\t", "="):
                    wanted = self.incomplete.lower()
                    found = next((f for f in fields if f.get("label") and f["label"].lower() == wanted), None)
                    if found is None:
                        return self.as_error(UNEXPECTED_FLAG.format(flag=self.incomplete))
                    self.state, self.field, self.incomplete = State.FLAG_VALUE_SEPARATOR, found, ""
                else:
                    self.incomplete += c
                    self.i += 1
            elif state is State.FLAG_VALUE_SEPARATOR:
                self.incomplete_start = self.i
                if c == "":
                    self.state = State.START_VALUE
                elif c in (" ", "\t"):
                    self.i += 1
                elif c == "=":
                    if flag_equals_used:
                        return self.as_error(MULTIPLE_EQUAL)
                    flag_equals_used = True
                    self.i += 1
                else:
                    self.state = State.START_VALUE
            elif state is State.START_VALUE:
                self.incomplete, self.incomplete_start = "", self.i
                if c == '"':
                    self.state = State.QUOTED_VALUE
                    self.i += 1
                elif c == "`":
                    self.state = State.TICK_VALUE
                    self.i += 1
                elif c in (" ", "\t"):
                    return self.as_error(UNEXPECTED_WHITESPACE)
                elif c == "[":
                    if not (self.field or {}).get("multiselect"):
                        return self.as_error(UNEXPECTED_LIST)
                    self.state = State.MULTISELECT_START
                    self.i += 1
                else:
                    self.state = State.NONSPACE_VALUE
            elif state in (State.NONSPACE_VALUE, State.MULTISELECT_NONSPACE_VALUE):
                ends = ("", " ", "\t") if state is State.NONSPACE_VALUE else ("", " ", "\t", ",", "]")
                if c in ends:
                    self.state = State.END_VALUE if state is State.NONSPACE_VALUE else State.MULTISELECT_END_VALUE
                else:
                    self.incomplete += c
                    self.i += 1
            elif state in (State.QUOTED_VALUE, State.MULTISELECT_QUOTED_VALUE, State.TICK_VALUE, State.MULTISELECT_TICK_VALUE):
                quoted = state in (State.QUOTED_VALUE, State.MULTISELECT_QUOTED_VALUE)
                mark = '"' if quoted else "`"
                if c == "":
                    return self.as_error(MISSING_QUOTE if quoted else MISSING_TICK)
                if c == mark:
                    if self.incomplete_start == self.i - 1:
                        return self.as_error(EMPTY_VALUE)
                    self.i += 1
                    self.state = {
                        State.QUOTED_VALUE: State.END_QUOTED_VALUE,
                        State.MULTISELECT_QUOTED_VALUE: State.MULTISELECT_END_QUOTED_VALUE,
                        State.TICK_VALUE: State.END_TICKED_VALUE,
                        State.MULTISELECT_TICK_VALUE: State.MULTISELECT_END_TICKED_VALUE,
                    }[state]
                elif c == "\\" and quoted:
                    self.i += 1  # the next character is taken as it is
                else:
                    self.incomplete += c
                    self.i += 1
            elif state in (State.END_VALUE, State.END_QUOTED_VALUE, State.END_TICKED_VALUE):
                if self.field is None:
                    return self.as_error(MISSING_VALUE)
                if self.field.get("type") == "bool" and self.incomplete not in ("true", "false"):
                    # `--flag` alone: true, and what follows is read as the next parameter
                    self.i = self.incomplete_start
                    self.values[self.field["name"]] = "true"
                    self.state = State.START_PARAMETER
                else:
                    self.values[self.field["name"]] = self.incomplete
                    self.incomplete, self.incomplete_start = "", self.i
                    if c == "":
                        return self
                    self.state = State.PARAMETER_SEPARATOR
            elif state is State.MULTISELECT_START:
                if self.field is None:
                    return self.as_error(MISSING_VALUE)
                self.values[self.field["name"]] = []
                if c in (" ", "\t"):
                    self.i += 1
                elif c == "]":
                    self.i += 1
                    self.state = State.PARAMETER_SEPARATOR
                else:
                    self.state = State.MULTISELECT_START_VALUE
            elif state is State.MULTISELECT_START_VALUE:
                self.incomplete, self.incomplete_start = "", self.i
                if c == "":
                    return self.as_error(MISSING_LIST_END)
                if c == '"':
                    self.state = State.MULTISELECT_QUOTED_VALUE
                    self.i += 1
                elif c == "`":
                    self.state = State.MULTISELECT_TICK_VALUE
                    self.i += 1
                elif c in (" ", "\t"):
                    return self.as_error(UNEXPECTED_WHITESPACE)
                elif c == ",":
                    return self.as_error(UNEXPECTED_COMMA)
                else:
                    self.state = State.MULTISELECT_NONSPACE_VALUE
            elif state in (State.MULTISELECT_END_VALUE, State.MULTISELECT_END_QUOTED_VALUE, State.MULTISELECT_END_TICKED_VALUE):
                if self.field is None:
                    return self.as_error(MISSING_VALUE)
                self.values[self.field["name"]].append(self.incomplete)
                self.incomplete, self.incomplete_start = "", self.i
                if c == "":
                    return self
                self.state = State.MULTISELECT_VALUE_SEPARATOR
            elif state is State.MULTISELECT_VALUE_SEPARATOR:
                if c == "":
                    return self.as_error(MISSING_LIST_END)
                if c == "]":
                    self.i += 1
                    self.state = State.PARAMETER_SEPARATOR
                elif c in (" ", "\t"):
                    self.i += 1
                elif c == ",":
                    self.i += 1
                    self.state = State.MULTISELECT_NEXT_VALUE
                else:
                    return self.as_error(UNEXPECTED_CHARACTER)
            elif state is State.MULTISELECT_NEXT_VALUE:
                if c in (" ", "\t"):
                    self.i += 1
                else:
                    self.state = State.MULTISELECT_START_VALUE


def _default_values(parsed: ParsedCommand, users: dict[str, User]) -> None:
    """`addDefaultAndReadOnlyValues`: a field's own value fills in when the command gave none (or it is read-only)."""
    for f in (parsed.resolved_form or {}).get("fields") or []:
        value = f.get("value")
        if not value or not (f.get("readonly") or f["name"] not in parsed.values):
            continue
        kind = f.get("type")
        if kind == "text":
            parsed.values[f["name"]] = value
        elif kind == "bool":
            parsed.values[f["name"]] = "true"
        elif kind == "user" and isinstance(value, dict) and value.get("value") in users:
            parsed.values[f["name"]] = users[value["value"]].username
        elif kind in ("static_select", "dynamic_select") and isinstance(value, dict):
            parsed.values[f["name"]] = value.get("value")


def _expand_options(parsed: ParsedCommand, users: dict[str, User]) -> str:
    """`expandOptions`: selects become `{label, value}`, users `{label: username, value: id}`, bools booleans."""
    errors: dict[str, str] = {}
    values = parsed.values
    for f in (parsed.resolved_form or {}).get("fields") or []:
        name, kind = f["name"], f.get("type")
        if not values.get(name):
            continue
        raw = values[name]
        if kind == "dynamic_select":
            values[name] = [] if f.get("multiselect") and isinstance(raw, list) else {"label": raw, "value": raw}
        elif kind == "static_select":
            wanted = raw if isinstance(raw, list) and f.get("multiselect") else [raw]
            options = []
            for item in wanted:
                option = next((o for o in f.get("options") or [] if o.get("value") == item), None)
                if option is None:
                    errors[name] = f"Unknown option for field `{name}`: `{item}`."
                    values[name] = None
                    break
                options.append(option)
            else:
                values[name] = options if isinstance(raw, list) and f.get("multiselect") else options[0]
        elif kind == "user":
            by_name = {u.username: u for u in users.values()}
            wanted = raw if isinstance(raw, list) and f.get("multiselect") else [raw]
            picked = []
            for item in wanted:
                user = by_name.get(item.removeprefix("@"))
                if user is None:
                    errors[name] = f"Unknown user for field `{name}`: `{item.removeprefix('@')}`."
                    break
                picked.append({"label": user.username, "value": user.id})
            else:
                values[name] = picked if isinstance(raw, list) and f.get("multiselect") else picked[0]
        elif kind == "channel":
            errors[name] = f"Unknown channel for field `{name}`: `{raw.removeprefix('~') if isinstance(raw, str) else raw}`."
        elif kind == "bool":
            values[name] = isinstance(raw, str) and raw.lower() == "true"
    return "".join(text + "\n" for text in errors.values())


def normalize(message: str) -> str:
    """`executeCommand`: the trigger lower-cased, one space, the rest trimmed."""
    length = message.find(" ")
    length = len(message) if length < 0 else length
    return message[:length].lower() + " " + message[length:].strip()


def is_app_command(message: str, bindings: list[dict[str, Any]]) -> bool:
    """`isAppCommand`: the (lower-cased) text starts with an app's base command and a space."""
    text = message.lower()
    for binding in bindings:
        base = binding.get("label") or ""
        if base and text.startswith((base if base.startswith("/") else "/" + base) + " "):
            return True
    return False


def compose_submit_call(
    command: str,
    bindings: list[dict[str, Any]],
    users: dict[str, User],
    context: dict[str, Any] | None = None,
    fetch_form: Callable[[dict[str, Any]], str | None] | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """`composeCommandSubmitCall`: (the CallRequest the webapp POSTs, "") or (None, the message it shows)."""
    parsed = ParsedCommand(command, fetch_form=fetch_form).match_binding(bindings).parse_form()
    if parsed.state is State.ERROR:
        return None, f"Parsing error: {parsed.error}"
    _default_values(parsed, users)
    missing = [
        f for f in (parsed.resolved_form or {}).get("fields") or [] if f.get("is_required") and not parsed.values.get(f["name"])
    ]
    if missing:
        return None, "Required fields missing: `{}`.".format(", ".join(webclient.js_str(f.get("label")) for f in missing))
    submit = (parsed.resolved_form or {}).get("submit")
    if not submit:
        return None, "No submit call in binding or form."
    problem = _expand_options(parsed, users)
    if problem:
        return None, problem
    assert parsed.binding is not None
    app_context = {"app_id": parsed.binding.get("app_id"), "location": parsed.binding.get("location"), **(context or {})}
    return webclient.create_call_request(submit, app_context, {}, parsed.values, parsed.command), ""


def _error(text: str) -> dict[str, Any]:
    return {"type": "error", "text": text}


def submit(plugin: Plugin, user: User, call: dict[str, Any], values: dict[str, Any] | None = None) -> dict[str, Any]:
    """A form submitted from the webapp's modal: `doAppSubmit` with the form's submit call."""
    try:
        app_id = plugin.app().app_id
    except CallFailed as exc:
        return _error(str(exc))
    request = webclient.create_call_request(call, {"app_id": app_id}, {}, values or {})
    request["context"]["track_as_submit"] = True
    return webclient.submit_response(_post_call(plugin, user, request))


def _post_call(plugin: Plugin, user: User, request: dict[str, Any]) -> dict[str, Any]:
    """`POST /api/v1/call` as the webapp sees it: the plugin's answer and its `app_metadata`."""
    return {**plugin.user_agent_call(user, request), "app_metadata": plugin.app_metadata(request["context"].get("app_id"))}


def run_command(plugin: Plugin, user: User, command: str) -> dict[str, Any]:
    """Enter on a slash command: parse it against the bindings, submit, and say what the webapp would show."""
    message = normalize(command.strip())
    try:
        bindings, _problems = plugin.bindings_for(user, {"user_agent": "webapp"})
    except CallFailed as exc:
        return _error(f"Failed to fetch the app's commands: {exc}")
    base_commands = webclient.command_bindings(webclient.validate_bindings(bindings))
    if not is_app_command(message, base_commands):
        return _error(f"Command with a trigger of '{message.split(' ', 1)[0]}' not found.")
    with plugin.store.lock:
        users = dict(plugin.store.users)
    context = {"root_id": ""}  # typed in a channel, not a thread; the emulator has no channels

    def fetch_form(binding: dict[str, Any]) -> str | None:
        where = {"app_id": binding.get("app_id"), "location": binding.get("location"), **context}
        source = webclient.create_call_request(binding["form"]["source"], where)
        return webclient.fetched_form_problem(plugin.user_agent_call(user, source))

    request, problem = compose_submit_call(message, base_commands, users, context, fetch_form)
    if request is None:
        return _error(problem)
    request["context"]["track_as_submit"] = True
    return webclient.command_response(_post_call(plugin, user, request))
