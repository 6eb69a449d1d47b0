"""YAML and JSON text to plain data, keeping the line of every document and finding the line of a field.

Used by `settings` (the config file) and the `loading` and `validating` stages. Safe loading only; a
duplicate mapping key is an error (PyYAML would silently keep the last one), and so are aliases that
expand past a bound, which stops a "billion laughs" document from eating the machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ANCHOR = re.compile(r"(?:^|[\s\[{,:?-])&[^\s,\[\]{}&]")  # "&name" where YAML allows an anchor, not "a&b"
MAX_EXPANDED_NODES = 1_000_000  # far beyond any real manifest; a "billion laughs" document is far beyond it


class YamlError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _StrictLoader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader that refuses duplicate keys (PyYAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Compared as the parser resolved them (tag and text), without constructing any key twice.
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                kind = "list" if isinstance(key_node, yaml.SequenceNode) else "dict"
                raise YamlError(f"a mapping key must be a plain value, not {kind}", line)
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                raise YamlError(f"duplicate key {key_node.value!r} (first at line {seen[key]})", line)
            seen[key] = line
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return result


def _expanded_size(data: Any) -> int:
    """How many nodes `data` has once every alias is expanded, computed without expanding it."""
    sizes: dict[int, int] = {}

    def size(value: Any) -> int:
        if not isinstance(value, dict | list):
            return 1
        known = sizes.get(id(value))
        if known is None:
            children = value.values() if isinstance(value, dict) else value
            known = 1 + sum(size(child) for child in children)
            sizes[id(value)] = known
        return known

    return size(data)


@dataclass(frozen=True)
class Document:
    index: int
    line: int  # 1-based line of the document's first content
    data: Any


def load_documents(text: str) -> Iterator[Document]:
    """Every document of a YAML stream, with its line; raises YamlError with the failing line."""
    loader = _StrictLoader(text)
    # Aliases need anchors: only a text with one can hold an alias bomb, so only then is it measured.
    anchors = ANCHOR.search(text) is not None
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            data = loader.construct_document(node)
            if anchors and _expanded_size(data) > MAX_EXPANDED_NODES:
                raise YamlError(
                    f"aliases expand this document past {MAX_EXPANDED_NODES:,} nodes: refusing a possible alias bomb",
                    node.start_mark.line + 1,
                )
            yield Document(index=index, line=node.start_mark.line + 1, data=data)
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(_describe(exc, text, line), line) from exc
    except yaml.YAMLError as exc:
        raise YamlError(str(exc).splitlines()[0], 1) from exc
    except RecursionError as exc:
        raise YamlError("the document is nested too deeply", 1) from exc
    finally:
        loader.dispose()


def _describe(exc: yaml.MarkedYAMLError, text: str, line: int) -> str:
    problem = exc.problem or "invalid YAML"
    lines = text.splitlines()
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    if "\t" in source_line[: len(source_line) - len(source_line.lstrip())] or "\\t" in problem:
        return f"{problem} (line {line} is indented with a tab: YAML allows only spaces)"
    if exc.context:
        return f"{exc.context}: {problem}"
    return problem


def line_of(text: str, document: int, path: Sequence[str | int]) -> int | None:
    """The 1-based line of the node at `path` in document number `document`, or of its nearest parent."""
    try:
        nodes = list(yaml.compose_all(text, Loader=_BaseLoader))
    except yaml.YAMLError:
        return None
    if document >= len(nodes) or nodes[document] is None:
        return None
    node = nodes[document]
    line: int = node.start_mark.line + 1
    for step in path:
        child = _child(node, step)
        if child is None:
            break
        key_line, node = child
        line = key_line
    return line


def _child(node: Any, step: str | int) -> tuple[int, Any] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(step):
                return key.start_mark.line + 1, value
    elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        item = node.value[step]
        return item.start_mark.line + 1, item
    return None
