"""Griffe extension: read textlstm's Keras-style docstrings as Google style.

The docstrings follow Keras (see STYLE.md): an unindented `Example:` line
followed by doctest lines, and argument lists that share one description
(`activation, use_bias, ...: as in LSTMCell`). Griffe's Google parser
wants indented example sections and one name per entry; without help it
renders `>>>` lines as nested Markdown quotes (and reads `x["key"]` in them
as a link) and drops the shared entries. This extension rewrites the text
of each docstring before it is parsed, never the source:

- a run of doctest lines at the left margin (from `>>>` to the next blank
  line) becomes a ```` ```pycon ```` block, and the `Example:` line above
  it a bold paragraph;
- an argument entry whose names wrap over several lines is joined into one
  line, so the entry is kept (under its list of names);
- the entries of a `Call arguments:` section (Keras' name for the
  arguments of `call()`, which griffe shows as a note) become a list.

It also reads the `#:` comments above a constant (`#: The sections of a
config ...`, Sphinx' convention, which griffe ignores) as its docstring.
"""

from __future__ import annotations

import re

import griffe

_FENCE = re.compile(r"^\s*(```|~~~)")
_EXAMPLE_TITLE = re.compile(r"^Examples?:$")
_SECTION_TITLE = re.compile(r"^(Args|Arguments|Parameters|Call arguments):$")
# A wrapped list of argument names: `name, name, name,` (no colon yet).
_NAME_LIST = re.compile(r"^(\s+)(\*{0,2}\w+, )*\*{0,2}\w+,$")
_CALL_ENTRY = re.compile(r"^(?P<indent> {4})(?P<name>\*{0,2}\w+): ")


def fence_doctests(text: str) -> str:
    """Wrap left-margin doctest runs in pycon fences (outside fences)."""
    lines, out, in_fence, index = text.splitlines(), [], False, 0
    while index < len(lines):
        line = lines[index]
        if _FENCE.match(line):
            in_fence = not in_fence
        if in_fence or not line.startswith(">>>"):
            out.append(line)
            index += 1
            continue
        if len(out) >= 2 and out[-1] == "" and _EXAMPLE_TITLE.match(out[-2]):
            out[-2] = f"**{out[-2]}**"
        out.append("```pycon")
        while index < len(lines) and lines[index].strip():
            out.append(lines[index])
            index += 1
        out.append("```")
    return "\n".join(out)


def join_wrapped_names(text: str) -> str:
    """Join argument entries whose list of names wraps onto the next lines."""
    lines, out, in_args = text.splitlines(), [], False
    for line in lines:
        if _SECTION_TITLE.match(line):
            in_args = True
        elif line and not line[0].isspace():
            in_args = False
        if (
            in_args
            and out
            and _NAME_LIST.match(out[-1])
            and len(line) - len(line.lstrip()) > len(out[-1]) - len(out[-1].lstrip())
        ):
            out[-1] = f"{out[-1]} {line.strip()}"
            continue
        out.append(line)
    return "\n".join(out)


def list_call_arguments(text: str) -> str:
    """Turn the entries of a `Call arguments:` section into list items."""
    lines, in_call = text.splitlines(), False
    for index, line in enumerate(lines):
        if line == "Call arguments:":
            in_call = True
        elif line and not line[0].isspace():
            in_call = False
        elif in_call and (entry := _CALL_ENTRY.match(line)):
            rest = line[entry.end() :]
            lines[index] = f"{entry['indent']}- `{entry['name']}`: {rest}"
    return "\n".join(lines)


def comment_docstring(obj: griffe.Object) -> griffe.Docstring | None:
    """The `#:` comment lines right above an attribute, as a docstring."""
    try:
        lines = obj.lines_collection[obj.filepath]
    except (KeyError, TypeError, griffe.BuiltinModuleError):
        return None
    index, comment = (obj.lineno or 0) - 2, []
    while index >= 0 and lines[index].lstrip().startswith("#:"):
        comment.insert(0, lines[index].lstrip()[2:].strip())
        index -= 1
    if not comment:
        return None
    return griffe.Docstring("\n".join(comment), lineno=index + 2, parent=obj)


class KerasDocstrings(griffe.Extension):
    """Rewrite each docstring's text before griffe parses it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.is_attribute and obj.docstring is None:
            obj.docstring = comment_docstring(obj)
        if obj.docstring is not None:
            text = fence_doctests(obj.docstring.value)
            text = list_call_arguments(join_wrapped_names(text))
            obj.docstring.value = text
