"""Builders for calls, command bindings, forms and fields (plugin `com.mattermost.apps` v1.2.2, web client v11).

Each builder checks, when it is built, what the plugin or the web client would otherwise drop without a word
(a field with a two-word label, a static select with no options, a dynamic select with no lookup, a command form
with no submit), and raises ValueError with one sentence. `to_json()` gives exactly the JSON the plugin passes on:
empty keys are left out, as Go's `omitempty` leaves them out.

    hello = Binding("hello", description="Say hello", form=Form(
        submit=Call("/hello", expand={"acting_user": "summary"}),
        fields=[Field("who", "user", is_required=True, position=1)],
    ))
    ok(data=[slash_commands(Binding("greeter", bindings=[hello]))])   # the answer to the bindings call

How the pieces reach the app:
* A command's form is typed as flags: `/greeter hello --who @alice`. A field's flag is its `label` (default: the
  name with `_` turned into `-`), matched case-insensitively; `position=n` takes the n-th bare word, and one text
  field with `position=-1` takes the rest of the line. Missing required fields stop the command with an error.
* A form answered to a call (`calls.form(...)`) opens as a modal. Text fields hold at most 150 characters
  (3000 for a `textarea`) unless `max_length` says otherwise; `min_length` is not checked by the client.
* A `dynamic_select` asks its own `lookup` call for items while the user types (`calls.lookup(...)` answers).
  A field with `refresh=True` calls the form's `source` on every change; the answer is a new form.
* There is no call type: a submit, a lookup, a source and a refresh all arrive as POSTs to their call's path.
  Give each its own path.

Not modelled, because plugin v1.2.2 drops them before the client sees them: a form's `footer` (never shown),
`submit_label`, `cancel_button`, `submit_on_cancel`, and the date/time settings.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Literal, get_args

JSON = Any

FieldType = Literal["text", "static_select", "dynamic_select", "bool", "user", "channel", "markdown"]
TextSubtype = Literal["", "input", "textarea", "number", "email", "tel", "url", "password"]
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
TEXT_SUBTYPES: tuple[str, ...] = get_args(TextSubtype)[1:]
SELECT_TYPES: tuple[str, ...] = ("static_select", "dynamic_select", "user", "channel")
# `apps.Expand`'s fields, in the order Go writes them: the plugin drops any other key, and any other level fails the call.
EXPAND_KEYS: tuple[str, ...] = (
    "app",
    "acting_user",
    "acting_user_access_token",
    "locale",
    "channel",
    "channel_member",
    "team",
    "team_member",
    "post",
    "root_post",
    "user",
    "oauth2_app",
    "oauth2_user",
)
EXPAND_LEVELS: tuple[str, ...] = ("", "id", "summary", "all")


def _one_word(text: str) -> bool:
    return bool(text) and len(text.split()) == 1 and text == text.strip()


def _check_icon(icon: str) -> None:
    """The plugin points a relative icon at the app's static folder, and clears one it cannot clean."""
    if not icon or icon.startswith(("https://", "http://")):
        return
    if "%" in icon or posixpath.normpath("/" + icon) == "/" or posixpath.normpath(icon.lstrip("/")).startswith(".."):
        raise ValueError(f"Icon {icon!r} must be a file of the app's static folder, such as 'icon.png', or an http(s) URL.")


@dataclass(frozen=True)
class Call:
    """A call to the app: `path` on the app's root URL, what to `expand` into the request's context, and any JSON
    `state` the app wants back. Levels are "", "id", "summary" or "all", "+" in front making the step required."""

    path: str
    expand: Mapping[str, str] = field(default_factory=dict)
    state: JSON = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "expand", dict(self.expand))  # a copy: changing the caller's dict changes no call
        if not self.path.startswith("/") or posixpath.normpath(self.path) != self.path:
            raise ValueError(f"Call path {self.path!r} must be a clean absolute path such as '/hello/submit'.")
        for key, level in self.expand.items():
            if key not in EXPAND_KEYS:
                raise ValueError(f"Call {self.path}: {key!r} is not something the plugin can expand.")
            if level.removeprefix("+") not in EXPAND_LEVELS:
                raise ValueError(f"Call {self.path}: expand level {level!r} for {key} is not '', 'id', 'summary' or 'all'.")

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"path": self.path}
        expand = {key: level for key, level in self.expand.items() if level}
        if expand:
            out["expand"] = expand
        if self.state is not None:
            out["state"] = self.state
        return out


@dataclass(frozen=True)
class Option:
    """A choice of a static select, or an item a lookup answers: the user sees `label`, the app gets `value`."""

    label: str
    value: str
    icon_data: str = ""

    def __post_init__(self) -> None:
        if not (isinstance(self.label, str) and isinstance(self.value, str) and isinstance(self.icon_data, str)):
            raise ValueError(f"Option {self.label!r}: label, value and icon_data must be strings.")

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"label": self.label, "value": self.value}
        if self.icon_data:
            out["icon_data"] = self.icon_data
        return out


FieldValue = str | bool | Option | Sequence[Option] | None


@dataclass(frozen=True)
class Field:
    """One input of a form (and one flag of a command).

    `type` is one of `FIELD_TYPES`. `label` is the command-line flag (one word; default: `name` with `_` as `-`);
    `modal_label` is the caption in the modal. `description` is Markdown help (the text itself for a `markdown`
    field), `hint` the placeholder. `value` is the default: a string for text, a bool for bool, an `Option` (a list
    of them with `multiselect`) for selects, users (value: the user id) and channels.
    """

    name: str
    type: FieldType = "text"
    _: KW_ONLY
    label: str = ""
    modal_label: str = ""
    description: str = ""
    hint: str = ""
    subtype: TextSubtype = ""
    value: FieldValue = None
    is_required: bool = False
    readonly: bool = False
    position: int = 0
    multiselect: bool = False
    refresh: bool = False
    options: Sequence[Option] = ()
    lookup: Call | None = None
    min_length: int = 0
    max_length: int = 0

    def __post_init__(self) -> None:
        if not _one_word(self.name):
            raise ValueError(f"Field name {self.name!r} must be one word: the plugin drops the field otherwise.")
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", "-"))
        object.__setattr__(self, "options", tuple(self.options))
        if isinstance(self.value, list):
            object.__setattr__(self, "value", tuple(self.value))
        where = f"Field {self.name}"
        if not _one_word(self.label):
            raise ValueError(f"{where}: label {self.label!r} must be one word (it is the flag); put captions in modal_label.")
        if self.type not in FIELD_TYPES:
            raise ValueError(f"{where}: type {self.type!r} is not one of {', '.join(FIELD_TYPES)}.")
        if self.subtype and (self.type != "text" or self.subtype not in TEXT_SUBTYPES):
            raise ValueError(f"{where}: subtype {self.subtype!r} needs type text and one of {', '.join(TEXT_SUBTYPES)}.")
        if self.type == "static_select":
            self._check_options()
        elif self.options:
            raise ValueError(f"{where}: only a static_select has options.")
        if (self.type == "dynamic_select") != (self.lookup is not None):
            raise ValueError(f"{where}: a dynamic_select needs a lookup call, and only a dynamic_select has one.")
        if self.position < -1 or (self.position == -1 and (self.type != "text" or self.multiselect)):
            raise ValueError(f"{where}: position must be 1 or more, or -1 (the rest of the line) on a text field.")
        if self.multiselect and self.type not in SELECT_TYPES:
            raise ValueError(f"{where}: multiselect is for {', '.join(SELECT_TYPES)} fields.")
        if (self.min_length or self.max_length) and self.type != "text":
            raise ValueError(f"{where}: min_length and max_length are for text fields.")
        if self.min_length < 0 or self.max_length < 0 or (self.max_length and self.min_length > self.max_length):
            raise ValueError(f"{where}: lengths must be 0 or more, and min_length at most max_length.")
        if self.type == "markdown" and not self.description:
            raise ValueError(f"{where}: a markdown field shows its description, which is empty.")
        if not self._value_fits():
            raise ValueError(f"{where}: value {self.value!r} does not fit a {self.type} field.")

    def _check_options(self) -> None:
        if not self.options:
            raise ValueError(f"Field {self.name}: a static_select needs at least one option.")
        labels, values = set(), set()
        for option in self.options:
            if not (option.label and option.value):
                raise ValueError(f"Field {self.name}: every option needs a label and a value, not {option!r}.")
            if option.label in labels or option.value in values:
                raise ValueError(f"Field {self.name}: option {option.label!r} repeats a label or a value.")
            labels.add(option.label)
            values.add(option.value)

    def _value_fits(self) -> bool:
        value = self.value
        if value is None:
            return True
        if self.type == "text":
            return isinstance(value, str)
        if self.type == "bool":
            return isinstance(value, bool)
        if self.type in SELECT_TYPES:
            if self.multiselect and isinstance(value, tuple):
                return all(isinstance(option, Option) for option in value)
            return isinstance(value, Option)
        return False  # markdown

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"name": self.name, "type": self.type}
        if isinstance(self.value, Option):
            out["value"] = self.value.to_json()
        elif isinstance(self.value, tuple):
            out["value"] = [option.to_json() for option in self.value]
        elif self.value is not None:
            out["value"] = self.value
        for key in ("is_required", "readonly", "description", "label", "hint", "position", "modal_label"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        for key in ("multiselect", "refresh", "subtype", "min_length", "max_length"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.options:
            out["options"] = [option.to_json() for option in self.options]
        if self.lookup is not None:
            out["lookup"] = self.lookup.to_json()
        return out


@dataclass(frozen=True)
class Form:
    """A form: a modal when a call answers with it, or a command's flags when a command binding carries it.

    `submit` is called with the values; `source` is called to fetch the form anew (on open, for a binding outside
    commands, and on every change of a `refresh` field). `submit_buttons` names a static_select field whose
    options become the buttons; the clicked option's value arrives as that field's plain string value.
    `title` is plain text, `header` Markdown, `icon` a static file name or an https URL.
    """

    _: KW_ONLY
    title: str = ""
    header: str = ""
    icon: str = ""
    submit: Call | None = None
    source: Call | None = None
    submit_buttons: str = ""
    fields: Sequence[Field] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))
        _check_icon(self.icon)
        if self.submit is None and self.source is None:
            raise ValueError("A form needs a submit call (or a source call that answers with the form).")
        names: set[str] = set()
        labels: set[str] = set()
        positions: set[int] = set()
        for f in self.fields:
            if f.name in names:
                raise ValueError(f"Field {f.name}: another field has the same name.")
            if f.label.lower() in labels:
                raise ValueError(f"Field {f.name}: label {f.label!r} is another field's too (flags ignore case).")
            if f.position and f.position in positions:
                raise ValueError(f"Field {f.name}: another field already has position {f.position}.")
            if f.refresh and self.source is None:
                raise ValueError(f"Field {f.name}: refresh calls the form's source, and this form has none.")
            names.add(f.name)
            labels.add(f.label.lower())
            positions.add(f.position)
        by_name = {f.name: f for f in self.fields}
        if self.submit_buttons and getattr(by_name.get(self.submit_buttons), "type", "") != "static_select":
            raise ValueError(f"submit_buttons {self.submit_buttons!r} must name a static_select field of the form.")

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {}
        for key in ("title", "header", "icon", "submit_buttons"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.submit is not None:
            out["submit"] = self.submit.to_json()
        if self.source is not None:
            out["source"] = self.source.to_json()
        if self.fields:
            out["fields"] = [f.to_json() for f in self.fields]
        return out


@dataclass(frozen=True)
class Binding:
    """A slash command or sub-command: `label` is the word typed. It has exactly one of `submit` (run at once, no
    flags), `form` (flags; it must have `submit`, since the command line never calls `source`) or `bindings`
    (its sub-commands). `hint` is shown after the command in the autocomplete list, `icon` beside it."""

    label: str
    _: KW_ONLY
    description: str = ""
    hint: str = ""
    icon: str = ""
    submit: Call | None = None
    form: Form | None = None
    bindings: Sequence[Binding] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "bindings", tuple(self.bindings))
        if not _one_word(self.label):
            raise ValueError(f"Command label {self.label!r} must be one word: it is what the user types.")
        _check_icon(self.icon)
        if [self.submit is not None, self.form is not None, bool(self.bindings)].count(True) != 1:
            raise ValueError(f"Command {self.label}: give exactly one of submit, form or bindings.")
        if self.form is not None and self.form.submit is None:
            raise ValueError(f"Command {self.label}: its form needs a submit call; a command never calls source.")
        labels = [sub.label.lower() for sub in self.bindings]
        if len(set(labels)) != len(labels):
            raise ValueError(f"Command {self.label}: two sub-commands have the same label.")

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"location": self.label, "label": self.label}
        for key in ("icon", "hint", "description"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.submit is not None:
            out["submit"] = self.submit.to_json()
        if self.form is not None:
            out["form"] = self.form.to_json()
        if self.bindings:
            out["bindings"] = [sub.to_json() for sub in self.bindings]
        return out


def slash_commands(*commands: Binding) -> dict[str, JSON]:
    """The `/command` binding that holds an app's slash commands, for the data of the answer to the bindings call."""
    labels = [command.label.lower() for command in commands]
    if len(set(labels)) != len(labels):
        raise ValueError("Two slash commands have the same label.")
    return {"location": "/command", "bindings": [command.to_json() for command in commands]}
