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


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
# A plain scalar can be something other than a string only if it starts with one of these.
_RESOLVERS = _BaseLoader.yaml_implicit_resolvers
# resolve() below relies on SafeLoader's set-up: implicit resolvers keyed by first character only.
_SHORT_RESOLVE = None not in _RESOLVERS and not _BaseLoader.yaml_path_resolvers


class _StrictLoader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader that refuses duplicate keys (PyYAML would silently keep the last one)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        # BaseResolver.resolve for SafeLoader's resolvers, without its general machinery: libyaml's
        # composer calls it for every node, and most scalars are strings told by their first character.
        if not _SHORT_RESOLVE:
            return super().resolve(kind, value, implicit)
        if kind is yaml.ScalarNode:
            if implicit[0]:
                for tag, pattern in _RESOLVERS.get(value[:1], ()):
                    if pattern.match(value):
                        return tag
            return _STR
        return _MAP if kind is yaml.MappingNode else _SEQ

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


class _NotPlain(Exception):
    """A node that the fast construction leaves to PyYAML's constructor (merge keys, rare tags)."""


class _TooLarge(Exception):
    """Aliases expand the document past MAX_EXPANDED_NODES."""


class _PlainBuilder:
    """Documents made only of maps, lists and core scalars, built without PyYAML's constructor.

    PyYAML's general constructor (state for recursive objects, generators for deep construction) was
    most of the cost of loading manifests. This builds the same values for the documents manifests
    are made of, refuses duplicate keys like `_StrictLoader`, and raises _NotPlain for anything else
    (merge keys, non-scalar keys, tags beyond the core schema), which PyYAML's constructor then builds
    or words the error for. An aliased node is built once and shared, as PyYAML does; every node
    counts, as often as aliases repeat it, against the alias-bomb bound.
    """

    def __init__(self, loader: Any) -> None:
        self._scalars = {
            "tag:yaml.org,2002:int": loader.construct_yaml_int,
            "tag:yaml.org,2002:float": loader.construct_yaml_float,
            "tag:yaml.org,2002:timestamp": loader.construct_yaml_timestamp,
        }
        self._bools = loader.bool_values
        self._budget = MAX_EXPANDED_NODES
        self._shared: dict[int, tuple[Any, int]] = {}  # id(node) -> (value, expanded size)

    def tree(self, node: yaml.Node) -> Any:
        """A document without anchors: every node is visited once per appearance."""
        self._budget -= 1
        if self._budget < 0:
            raise _TooLarge
        kind = type(node)
        if kind is yaml.MappingNode and node.tag == _MAP:
            result: dict[Any, Any] = {}
            for key_node, value_node in self._pairs(node):
                result[self.tree(key_node)] = self.tree(value_node)
            return result
        if kind is yaml.SequenceNode and node.tag == _SEQ:
            return [self.tree(item) for item in node.value]
        return self._scalar(node)

    def shared(self, node: yaml.Node) -> tuple[Any, int]:
        """A document with anchors: (value, size once every alias is expanded), each node built once."""
        known = self._shared.get(id(node))
        if known is not None:
            return known
        kind, size = type(node), 1
        value: Any
        if kind is yaml.MappingNode and node.tag == _MAP:
            value = {}
            for key_node, value_node in self._pairs(node):
                item, item_size = self._child(value_node)
                value[self._scalar(key_node)] = item
                size += item_size
        elif kind is yaml.SequenceNode and node.tag == _SEQ:
            value = []
            for child in node.value:
                item, item_size = self._child(child)
                value.append(item)
                size += item_size
        else:
            value = self._scalar(node)
        if size > MAX_EXPANDED_NODES:
            raise _TooLarge
        self._shared[id(node)] = (value, size)
        return value, size

    def _child(self, node: yaml.Node) -> tuple[Any, int]:
        # A scalar's value is the same whether built once or again: only collections are remembered.
        return (self._scalar(node), 1) if type(node) is yaml.ScalarNode else self.shared(node)

    def _pairs(self, node: yaml.Node) -> list[tuple[yaml.Node, yaml.Node]]:
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if type(key_node) is not yaml.ScalarNode or key_node.tag == _MERGE:
                raise _NotPlain  # the strict constructor words these errors, and merges
            key, line = (key_node.tag, key_node.value), key_node.start_mark.line + 1
            if key in seen:
                raise YamlError(f"duplicate key {key_node.value!r} (first at line {seen[key]})", line)
            seen[key] = line
        pairs: list[tuple[yaml.Node, yaml.Node]] = node.value
        return pairs

    def _scalar(self, node: yaml.Node) -> Any:
        if type(node) is not yaml.ScalarNode:
            raise _NotPlain
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            return self._bools[node.value.lower()]
        construct = self._scalars.get(tag)
        if construct is None:
            raise _NotPlain
        return construct(node)


_BOMB = f"aliases expand this document past {MAX_EXPANDED_NODES:,} nodes: refusing a possible alias bomb"


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
            data = _construct(loader, node, anchors=anchors)
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


def _construct(loader: Any, node: yaml.Node, *, anchors: bool) -> Any:
    try:
        builder = _PlainBuilder(loader)
        return builder.shared(node)[0] if anchors else builder.tree(node)
    except _NotPlain:
        pass
    except _TooLarge:
        raise YamlError(_BOMB, node.start_mark.line + 1) from None
    # Merge keys and rare tags: PyYAML's constructor, bounded the same way.
    data = loader.construct_document(node)
    if anchors and _expanded_size(data) > MAX_EXPANDED_NODES:
        raise YamlError(_BOMB, node.start_mark.line + 1)
    return data


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
