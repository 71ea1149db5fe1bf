"""The few Go standard-library behaviours the plugin's answers depend on, so the emulator's texts match its own.

`strconv.Quote` (`%q` in every error message), `path.Clean`/`path.Join`, `net/url` parsing and printing
(`utils.CleanStaticURL`, `httputils.IsValidURL`), hashicorp/go-multierror's list format, and the syntax errors
of `encoding/json` (the REST API quotes them: "OAuth2App is not valid JSON: invalid character ...").
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote as percent_quote

# -- fmt and errors ----------------------------------------------------------------------------------------


def quote(text: str) -> str:
    """`strconv.Quote`: printable characters stay, `"` and `\\` are escaped, the rest becomes \\n, \\x.., \\u...."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code < 0x80 or _printable(ch):
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _printable(ch: str) -> bool:
    # unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
    return unicodedata.category(ch)[0] in "LMNPS"


def multierror(problems: list[str]) -> str:
    """hashicorp/go-multierror's ListFormatFunc, which the plugin's `?test=1` and Go tests print."""
    if len(problems) == 1:
        return f"1 error occurred:\n\t* {problems[0]}\n\n"
    points = "\n\t".join(f"* {p}" for p in problems)
    return f"{len(problems)} errors occurred:\n\t{points}\n\n"


# -- path -------------------------------------------------------------------------------------------------


def clean_path(p: str) -> str:
    """`path.Clean`: one slash between elements, no `.`, `..` resolved lexically, "." for nothing."""
    if not p:
        return "."
    rooted = p.startswith("/")
    parts: list[str] = []
    for element in p.split("/"):
        if element in ("", "."):
            continue
        if element == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(element)
    cleaned = ("/" if rooted else "") + "/".join(parts)
    return cleaned or "."


def join_path(*elements: str) -> str:
    """`path.Join`: the non-empty elements joined by slashes, then cleaned; "" when all are empty."""
    kept = [e for e in elements if e]
    return clean_path("/".join(kept)) if kept else ""


# -- net/url ----------------------------------------------------------------------------------------------


class URLError(ValueError):
    """What net/url returns; str() is Go's error text."""


_HEX = "0123456789abcdefABCDEF"
_HOST_SAFE = set("-_.~!$&'()*+,;=:[]<>\"%")
_RAW_PATH_OK = set("!$&'()*+,;=:@[]%")  # `validEncoded`: left as they are in a path the client escaped


def unescape_path(text: str) -> str:
    """`url.PathUnescape`: %XX decoded as bytes (UTF-8 overall); a bad escape is an error."""
    raw = bytearray()
    index = 0
    data = text.encode()
    while index < len(data):
        if data[index] == ord("%"):
            chunk = data[index : index + 3].decode(errors="replace")
            if len(chunk) < 3 or chunk[1] not in _HEX or chunk[2] not in _HEX:
                raise URLError(f"invalid URL escape {quote(chunk)}")
            raw.append(int(chunk[1:], 16))
            index += 3
        else:
            raw.append(data[index])
            index += 1
    return raw.decode(errors="surrogateescape")


def escape_path(path: str) -> str:
    """`url.URL.EscapedPath` for a path Go escapes itself: `$&+,/:;=@` stay, `?`, spaces, `%` and the rest are %XX."""
    return percent_quote(path.encode(errors="surrogateescape"), safe="$&+,/:;=@")


@dataclass
class URL:
    scheme: str = ""
    opaque: str = ""
    userinfo: str | None = None
    host: str = ""
    path: str = ""
    raw_path: str = ""
    raw_query: str = ""
    force_query: bool = False
    fragment: str = ""

    def escaped_path(self) -> str:
        if self.raw_path and all(ch in _RAW_PATH_OK or escape_path(ch) == ch for ch in self.raw_path):
            try:
                if unescape_path(self.raw_path) == self.path:
                    return self.raw_path
            except URLError:
                pass
        return escape_path(self.path)

    def string(self) -> str:
        """`url.URL.String`."""
        out = ""
        if self.scheme:
            out += self.scheme + ":"
        if self.opaque:
            out += self.opaque
        else:
            if self.scheme or self.host or self.userinfo is not None:
                if self.host or self.path or self.userinfo is not None:
                    out += "//"
                if self.userinfo is not None:
                    out += self.userinfo + "@"
                out += self.host
            path = self.escaped_path()
            if path and not path.startswith("/") and self.host:
                out += "/"
            if not out and ":" in path.split("/", 1)[0]:
                out += "./"
            out += path
        if self.force_query or self.raw_query:
            out += "?" + self.raw_query
        if self.fragment:
            out += "#" + percent_quote(self.fragment.encode(errors="surrogateescape"), safe="$&+,/:;=@?!()*'")
        return out


def _scheme(raw: str) -> tuple[str, str]:
    for index, ch in enumerate(raw):
        if ch.isascii() and ch.isalpha():
            continue
        if ch.isascii() and (ch.isdigit() or ch in "+-."):
            if index == 0:
                return "", raw
            continue
        if ch == ":":
            if index == 0:
                raise URLError("missing protocol scheme")
            return raw[:index], raw[index + 1 :]
        return "", raw
    return "", raw


def _host(authority: str) -> tuple[str | None, str]:
    userinfo: str | None = None
    at = authority.rfind("@")
    if at >= 0:
        userinfo, authority = authority[:at], authority[at + 1 :]
    host = authority
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            raise URLError("missing ']' in host")
        port = host[end + 1 :]
    else:
        colon = host.rfind(":")
        port = host[colon:] if colon >= 0 else ""
    if port and not (port.startswith(":") and all(c in "0123456789" for c in port[1:])):
        raise URLError(f"invalid port {quote(port)} after host")
    for ch in host:
        if ch.isascii() and not (ch.isalnum() or ch in _HOST_SAFE):
            raise URLError(f"invalid character {quote(ch)} in host name")
    return userinfo, unescape_path(host)


def parse_url(raw: str, *, request_uri: bool = False) -> URL:
    """`url.Parse` (or `url.ParseRequestURI`); errors read `parse "<raw>": <why>` as Go prints them."""
    try:
        return _parse(raw, request_uri)
    except URLError as exc:
        source = raw if request_uri else raw.split("#", 1)[0]
        raise URLError(f"parse {quote(source)}: {exc}") from None


def _parse(raw: str, request_uri: bool) -> URL:
    fragment = ""
    if not request_uri and "#" in raw:
        raw, fragment = raw.split("#", 1)
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        raise URLError("net/url: invalid control character in URL")
    if not raw and request_uri:
        raise URLError("empty url")
    url = URL()
    if raw == "*":
        url.path = "*"
        return url
    scheme, rest = _scheme(raw)
    url.scheme = scheme.lower()
    if rest.endswith("?") and rest.count("?") == 1:
        url.force_query, rest = True, rest[:-1]
    elif "?" in rest:
        rest, url.raw_query = rest.split("?", 1)
    if not rest.startswith("/"):
        if url.scheme:
            url.opaque = rest
            return url
        if request_uri:
            raise URLError("invalid URI for request")
        if ":" in rest.split("/", 1)[0]:
            raise URLError("first path segment in URL cannot contain colon")
    if (url.scheme or (not request_uri and not rest.startswith("///"))) and rest.startswith("//"):
        authority, slash, tail = rest[2:].partition("/")
        rest = slash + tail
        url.userinfo, url.host = _host(authority)
    url.path = unescape_path(rest)
    if escape_path(url.path) != rest:
        url.raw_path = rest
    if fragment:
        url.fragment = unescape_path(fragment)
    return url


# -- encoding/json ----------------------------------------------------------------------------------------


def _quote_char(ch: str) -> str:
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    return "'" + quote(ch)[1:-1] + "'"


class _Scanner:
    """Go's encoding/json scanner, reduced to what it reports: the first syntax error, in Go's words."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def error(self, context: str) -> str:
        if self.i >= len(self.text):
            return "unexpected end of JSON input"
        return f"invalid character {_quote_char(self.text[self.i])} {context}"

    def space(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t\r\n":
            self.i += 1

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def value(self) -> str | None:
        self.space()
        ch = self.peek()
        if ch == "{":
            return self.object()
        if ch == "[":
            return self.array()
        if ch == '"':
            return self.string()
        if ch == "-" or ch.isdigit():
            return self.number()
        for word in ("true", "false", "null"):
            if ch == word[0]:
                return self.literal(word)
        return self.error("looking for beginning of value")

    def literal(self, word: str) -> str | None:
        for expected in word:
            if self.peek() != expected:
                return self.error(f"in literal {word} (expecting {_quote_char(expected)})")
            self.i += 1
        return None

    def number(self) -> str | None:
        if self.peek() == "-":
            self.i += 1
            if not self.peek().isdigit():
                return self.error("in numeric literal")
        if self.peek() == "0":
            self.i += 1
        else:
            while self.peek().isdigit():
                self.i += 1
        if self.peek() == ".":
            self.i += 1
            if not self.peek().isdigit():
                return self.error("after decimal point in numeric literal")
            while self.peek().isdigit():
                self.i += 1
        if self.peek() in ("e", "E"):
            self.i += 1
            if self.peek() in ("+", "-"):
                self.i += 1
            if not self.peek().isdigit():
                return self.error("in exponent of numeric literal")
            while self.peek().isdigit():
                self.i += 1
        return None

    def string(self) -> str | None:
        self.i += 1
        while True:
            ch = self.peek()
            if ch == "":
                return self.error("")
            self.i += 1
            if ch == '"':
                return None
            if ch < " ":
                self.i -= 1
                return self.error("in string literal")
            if ch == "\\":
                escape = self.peek()
                if escape in '"\\/bfnrt':
                    self.i += 1
                elif escape == "u":
                    self.i += 1
                    for _ in range(4):
                        if self.peek() == "" or self.peek() not in _HEX:
                            return self.error("in \\u hexadecimal character escape")
                        self.i += 1
                else:
                    return self.error("in string escape code")

    def object(self) -> str | None:
        self.i += 1
        self.space()
        if self.peek() == "}":
            self.i += 1
            return None
        while True:
            self.space()
            if self.peek() != '"':
                return self.error("looking for beginning of object key string")
            if (problem := self.string()) is not None:
                return problem
            self.space()
            if self.peek() != ":":
                return self.error("after object key")
            self.i += 1
            if (problem := self.value()) is not None:
                return problem
            self.space()
            if self.peek() == ",":
                self.i += 1
                continue
            if self.peek() == "}":
                self.i += 1
                return None
            return self.error("after object key:value pair")

    def array(self) -> str | None:
        self.i += 1
        self.space()
        if self.peek() == "]":
            self.i += 1
            return None
        while True:
            if (problem := self.value()) is not None:
                return problem
            self.space()
            if self.peek() == ",":
                self.i += 1
                continue
            if self.peek() == "]":
                self.i += 1
                return None
            return self.error("after array element")


def json_syntax_error(data: bytes) -> str | None:
    """None for valid JSON, else the text of Go's `*json.SyntaxError` for it."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        text = data.decode(errors="replace")
    scanner = _Scanner(text)
    problem = scanner.value()
    if problem is None:
        scanner.space()
        if scanner.i < len(text):
            return scanner.error("after top-level value")
    return problem


def go_json_type(value: Any) -> str:
    """The JSON type name Go's decoder prints in `cannot unmarshal <type> into ...`."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), "null")


def loads(data: bytes) -> Any:
    """json.loads after Go's own syntax check, so a body Go refuses is refused here with Go's text."""
    problem = json_syntax_error(data)
    if problem is not None:
        raise ValueError(problem)
    return json.loads(data)
