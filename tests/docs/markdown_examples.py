"""The documented examples: request blocks, the responses shown under them, and a comparison.

The convention (docs/development.md, "Documented examples"):

- a ```bash block whose first line starts with ``curl`` is an example request: one curl
  command against ``localhost:8000``;
- the next fenced block is its response, a ```http block: the status line, the headers worth
  showing (others are left out), a blank line and the body;
- ``…`` (or ``...``) abbreviates. At the end of a header value it stands for the rest of the
  value. In a JSON body, outside strings, it stands for any value (times, ids) where a value
  goes, for more members where a member goes, for more elements as the last element of a
  list. A text body (shown under a Content-Type that is not JSON) lists lines the body must
  hold. Everything else shown must match exactly; an object without ``…`` must have exactly
  the members shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

ANY = "\x00any"  # an elided value; NUL cannot occur in a real response's strings
MORE = "\x00more"  # elided object members or array elements
_ELLIPSES = ("…", "...")


class ConventionError(ValueError):
    """A page breaks the example convention (the test names the file and line)."""


@dataclass(frozen=True)
class ExpectedResponse:
    status_line: str
    headers: dict[str, str]  # lower-cased name → the value shown (maybe ending in …)
    json_body: Any = None  # the JSON body shown, with ANY and MORE markers
    text_lines: tuple[str, ...] | None = None  # the lines of a text body shown


@dataclass(frozen=True)
class Example:
    where: str  # "README.md:42", the line of the request block
    command: str
    expected: ExpectedResponse


def examples_in(path: Path, root: Path) -> Iterator[Example]:
    """The request/response pairs of one Markdown file, in order."""
    tokens = MarkdownIt("commonmark").parse(path.read_text("utf-8"))
    request: tuple[str, str] | None = None  # (where, command) awaiting its response
    for token in (t for t in tokens if t.type == "fence"):
        language = token.info.split()[0] if token.info.strip() else ""
        where = f"{path.relative_to(root)}:{token.map[0] + 1 if token.map else '?'}"
        if request is not None and language == "http":
            yield Example(*request, parse_response_block(token.content, where))
            request = None
        elif request is not None:
            raise ConventionError(f"{request[0]}: the request is not followed by a ```http block")
        elif language == "bash" and token.content.lstrip().startswith("curl "):
            if sum(line.lstrip().startswith("curl ") for line in token.content.splitlines()) > 1:
                raise ConventionError(f"{where}: one curl command per request block")
            request = (where, token.content)
        elif language == "http":
            raise ConventionError(f"{where}: a ```http block without a request block before it")
    if request is not None:
        raise ConventionError(f"{request[0]}: the request is not followed by a ```http block")


def parse_response_block(text: str, where: str) -> ExpectedResponse:
    head, _, body = text.partition("\n\n")
    status_line, *header_lines = head.strip("\n").splitlines()
    if not status_line.startswith("HTTP/"):
        raise ConventionError(f"{where}: a response block starts with its status line")
    headers = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise ConventionError(f"{where}: {line!r} is not a header line")
        headers[name.strip().lower()] = value.strip()
    if not body.strip():
        return ExpectedResponse(status_line.strip(), headers)
    if "json" not in headers.get("content-type", "json"):
        return ExpectedResponse(status_line.strip(), headers, text_lines=tuple(body.splitlines()))
    try:
        parsed = json.loads(_with_ellipses_as_markers(body))
    except ValueError as exc:
        raise ConventionError(f"{where}: the body is not JSON (… for elisions): {exc}") from exc
    return ExpectedResponse(status_line.strip(), headers, json_body=parsed)


def _with_ellipses_as_markers(text: str) -> str:
    """JSON text in which each ``…`` outside a string became ANY or MORE."""
    out: list[str] = []
    nesting: list[str] = []  # the open brackets, innermost last
    in_string = escaped = False
    last = ""  # the last significant character outside strings
    i = 0
    while i < len(text):
        char = text[i]
        ellipsis = next((e for e in _ELLIPSES if text.startswith(e, i)), None)
        if in_string:
            in_string = escaped or char != '"'
            escaped = not escaped and char == "\\"
        elif ellipsis is not None:
            out.append(_marker(last, nesting))
            last, i = "…", i + len(ellipsis)
            continue
        elif char == '"':
            in_string = True
        elif char in "{[":
            nesting.append(char)
        elif char in "}]" and nesting:
            nesting.pop()
        if not char.isspace() and not in_string:
            last = char
        out.append(char)
        i += 1
    return "".join(out)


def _marker(last: str, nesting: list[str]) -> str:
    if last == ":" or not nesting:
        return json.dumps(ANY)  # a value
    if nesting[-1] == "{":
        return json.dumps(MORE) + ": null"  # an object member
    return json.dumps(MORE)  # an array element


def mismatches(expected: Any, actual: Any, at: str = "body") -> list[str]:
    """Where ``actual`` differs from the shown ``expected`` (empty when it matches)."""
    if expected == ANY:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{at}: expected an object, got {actual!r}"]
        found = [
            problem
            for key, value in expected.items()
            if key != MORE
            for problem in (
                mismatches(value, actual[key], f"{at}.{key}")
                if key in actual
                else [f"{at}.{key}: missing"]
            )
        ]
        extra = sorted(set(actual) - set(expected))
        if extra and MORE not in expected:
            found.append(f"{at}: members not shown {extra} (show them, or add … for more)")
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{at}: expected an array, got {actual!r}"]
        shown = expected[:-1] if expected and expected[-1] == MORE else expected
        if MORE in shown:
            raise ConventionError(f"{at}: … stands for more elements only at the end of a list")
        if len(actual) < len(shown) or (shown is expected and len(actual) != len(shown)):
            return [f"{at}: {len(actual)} elements, the docs show {len(shown)}"]
        return [
            m for i, item in enumerate(shown) for m in mismatches(item, actual[i], f"{at}[{i}]")
        ]
    if type(expected) is not type(actual) or expected != actual:
        return [f"{at}: the docs show {expected!r}, the service answered {actual!r}"]
    return []


@dataclass(frozen=True)
class ActualResponse:
    status_line: str
    headers: dict[str, str]
    body: str


def parse_curl_output(output: str) -> ActualResponse:
    """What ``curl -i`` printed: status line, headers, blank line, body (1xx skipped)."""
    rest = output
    while True:
        head, _, rest = rest.partition("\r\n\r\n")
        status_line, *header_lines = head.split("\r\n")
        if not status_line.startswith("HTTP/1.1 1"):  # 100 Continue precedes the answer
            break
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return ActualResponse(status_line.strip(), headers, rest)


def response_mismatches(expected: ExpectedResponse, actual: ActualResponse) -> list[str]:
    found = []
    if expected.status_line != actual.status_line:
        found.append(f"status: the docs show {expected.status_line!r}, got {actual.status_line!r}")
    for name, shown in expected.headers.items():
        if not _header_matches(shown, actual.headers.get(name)):
            found.append(
                f"header {name}: the docs show {shown!r}, got {actual.headers.get(name)!r}"
            )
    if expected.text_lines is not None:
        lines = set(actual.body.splitlines())
        found += [f"body: no line {line!r}" for line in expected.text_lines
                  if line not in _ELLIPSES and line not in lines]  # fmt: skip
    elif expected.json_body is not None:
        try:
            found += mismatches(expected.json_body, json.loads(actual.body))
        except ValueError:
            found.append(f"body: not JSON: {actual.body[:200]!r}")
    return found


def _header_matches(shown: str, actual: str | None) -> bool:
    if actual is None:
        return False
    for ellipsis in _ELLIPSES:
        if shown.endswith(ellipsis):
            return actual.startswith(shown.removesuffix(ellipsis).rstrip())
    return actual == shown
