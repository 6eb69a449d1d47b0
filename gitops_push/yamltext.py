"""YAML and JSON text to plain data as kubectl reads it, keeping the line of every document and field.

Used by `settings` (the config file) and the `loading` and `validating` stages. kubectl splits a file
into documents with apimachinery's YAMLOrJSONDecoder (a JSON stream when the text starts with `{`,
else YAML cut at every line that starts with `---`) and turns each YAML document into JSON with
sigs.k8s.io/yaml, whose YAML is go-yaml v2's: YAML 1.1 scalars as go-yaml resolves them (`y` is
true, `1e3` is a number, `12:30` and `2024-01-01` are strings), non-string keys written as strings,
merge keys applied in order. This module gives the same JSON for the same text, held to kubectl by
tests/unit/test_kubectl_parity.py (through tools/go/yamloracle), and refuses what kubectl refuses.

Where kubectl is silently lax in a way that can change a deployment it refuses instead, and says why
(docs/kubectl-parity.md lists each case): a key twice (kubectl keeps the last), content after `...`
(kubectl drops it), an integer beyond 64 bits (kubectl rounds it), `!!binary` bytes that are not
UTF-8 (kubectl replaces them). Only libyaml's parser is used from PyYAML: documents are built here
from its nodes, never by PyYAML's constructor, so no tag can run code and merge keys cost what they
copy. Aliases are bounded by go-yaml's own rule against alias bombs ("excessive aliasing").
"""

from __future__ import annotations

import binascii
import bisect
import functools
import itertools
import json
import math
import operator
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitops_push import yamlblocks

if TYPE_CHECKING:
    import yaml
else:

    class _PyYAML:
        """PyYAML, imported when first used: a file of block-style manifests is read by `yamlblocks`
        alone, and importing PyYAML took 11 ms of every run's start. The first attribute asked for
        puts the module itself in its place."""

        def __getattr__(self, name: str) -> Any:
            global yaml
            import yaml

            return getattr(yaml, name)

    yaml = _PyYAML()


class YamlError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class Document:
    index: int  # among the documents kubectl reads (empty and null documents are not counted)
    line: int  # 1-based line of the document's first content
    data: Any
    # How many maps and lists deep `data` nests, as building it told (None: a JSON document); never
    # less than the true depth, so that only a document said to be deeper than a limit need be
    # measured again.
    depth: int | None = None


def load_documents(text: str) -> Iterator[Document]:
    """Every document kubectl would read from `text`, as kubectl's JSON; raises YamlError with a line."""
    if _looks_like_json(text):
        yield from _json_then_yaml(text)
    else:
        yield from _yaml_documents(text, first_line=1, first_index=0)


def line_of(text: str, document: int, path: Sequence[str | int]) -> int | None:
    """The 1-based line of the node at `path` in document number `document`, or of its nearest parent."""
    try:
        found = next((n for i, n in enumerate(_document_nodes(text)) if i == document), None)
    except (yaml.YAMLError, YamlError, RecursionError):
        return None
    if found is None:
        return None
    node, offset = found.node, found.offset
    line: int = node.start_mark.line + 1 + offset
    for step in path:
        child = _child(node, step)
        if child is None:
            break
        key_line, node = child
        line = key_line + offset
    return line


@dataclass(frozen=True)
class Head:
    """What tells one document of a file from the others: its number, its line, its kind and name."""

    index: int
    line: int
    kind: Any
    name: Any


def document_heads(text: str) -> list[Head]:
    """`Head`s of the documents `load_documents` reads, the same, without building each document.

    A rendering names a source file per object and must tell which of its documents the object was.
    Block-style manifests (every document a mapping whose keys start at column 0, `kind:` and
    `metadata:` with `name:` on lines of their own) are read line by line; any other text, and any
    document whose lines leave a doubt, is parsed as `load_documents` parses it. Raises YamlError
    where it parses; a text the parser would refuse may still be scanned (a renderer has read the
    file already, and heads only say where its objects start).
    """
    heads = _scanned_heads(text)
    if heads is not None:
        return heads
    return [Head(d.index, d.line, *_kind_and_name(d.data)) for d in load_documents(text)]


def _kind_and_name(data: Any) -> tuple[Any, Any]:
    if not isinstance(data, dict):
        return None, None
    metadata = data.get("metadata")
    return data.get("kind"), metadata.get("name") if isinstance(metadata, dict) else None


# A top-level key of a block mapping on a line of its own: `kind: Deployment`, `metadata:`.
_TOP_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*:(?:[ \t]|$)")
# A value scanning can read: a plain word (a name, a kind) or the same in matching quotes, then
# nothing but a comment. Anything else is read by the parser.
_SIMPLE = r"(?:([A-Za-z0-9][A-Za-z0-9_.-]*)|\"([A-Za-z0-9][A-Za-z0-9_.-]*)\"|'([A-Za-z0-9][A-Za-z0-9_.-]*)')"
_KIND = re.compile(rf"^kind:[ \t]+{_SIMPLE}[ \t]*(?:#.*)?$")
_METADATA = re.compile(r"^metadata:[ \t]*(?:#.*)?$")
_NAME = re.compile(rf"^( +)name:[ \t]+{_SIMPLE}[ \t]*(?:#.*)?$")
_WORD_VALUES = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}  # YAML 1.1 reads these


class _NeedsParser(Exception):
    """A line the scan cannot read for certain: the parser decides."""


def _scanned_heads(text: str) -> list[Head] | None:
    """The heads by a line scan, or None where the text needs the parser."""
    text = _kubectl_lines(text)
    if _looks_like_json(text) or _NEEDS_CHUNKS.search(text) or "\t" in text or "\ufeff" in text:
        return None
    heads: list[Head] = []
    lines = text.split("\n")
    start = 0
    try:
        for number, line in enumerate([*lines, "---"]):
            if line.startswith("---"):
                head = _scanned_head(lines[start:number], start, len(heads))
                if head is not None:
                    heads.append(head)
                start = number + 1
    except _NeedsParser:
        return None
    return heads


def _scanned_head(lines: list[str], offset: int, index: int) -> Head | None:
    """One document's head; None for an empty document (only comments and blank lines)."""
    content = [
        (n, line) for n, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")
    ]
    if not content:
        return None
    top = [line for _, line in content if not line.startswith((" ", "-"))]
    if not _TOP_KEY.match(content[0][1]) or not all(_TOP_KEY.match(line) for line in top):
        raise _NeedsParser  # not a block mapping, or an odd line at the top level
    kinds = [line for line in top if line.startswith("kind:")]
    metadata = [position for position, (_, line) in enumerate(content) if line.startswith("metadata:")]
    if len(kinds) > 1 or len(metadata) > 1:
        raise _NeedsParser  # a key twice: the parser refuses it
    kind = _scanned_value(_KIND, kinds[0]) if kinds else None
    name = _scanned_name(content, metadata[0]) if metadata else None
    return Head(index, offset + content[0][0] + 1, kind, name)


def _scanned_value(pattern: re.Pattern[str], line: str) -> str:
    match = pattern.match(line)
    if match is None:
        raise _NeedsParser
    last = pattern.groups  # the last three groups: plain, double-quoted, single-quoted
    plain, double, single = match.group(last - 2), match.group(last - 1), match.group(last)
    if plain is not None and (not plain[0].isalpha() or plain.lower() in _WORD_VALUES):
        raise _NeedsParser  # `name: on` is a boolean to YAML 1.1, `name: 1e3` a number
    return str(plain or double or single)


def _scanned_name(content: list[tuple[int, str]], position: int) -> str | None:
    """`name:` among the keys of the `metadata:` block at `content[position]`; None without one."""
    if not _METADATA.match(content[position][1]):
        raise _NeedsParser  # `metadata: {name: x}` and the like
    block = []
    for _, line in content[position + 1 :]:
        if not line.startswith(" "):
            break
        block.append(line)
    if not block:
        raise _NeedsParser  # `metadata:` and nothing: null
    indent = len(block[0]) - len(block[0].lstrip(" "))
    if any(len(line) - len(line.lstrip(" ")) < indent for line in block):
        raise _NeedsParser
    names = [line for line in block if line.startswith(" " * indent + "name:")]
    if len(names) > 1:
        raise _NeedsParser
    return _scanned_value(_NAME, names[0]) if names else None


def _child(node: Any, step: str | int) -> tuple[int, Any] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                return key.start_mark.line + 1, value
    elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        item = node.value[step]
        return item.start_mark.line + 1, item
    return None


# --- splitting a stream as kubectl does ----------------------------------------------------------

# Go's unicode.IsSpace: what kubectl skips before looking for the `{` of a JSON stream.
_GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(c) for c in range(0x2000, 0x200B)
)
_JSON_SNIFF_BYTES = 4096  # kubectl looks this far into a file for the `{` of a JSON stream


def _looks_like_json(text: str) -> bool:
    for position, char in enumerate(text):
        if char not in _GO_SPACE:
            return char == "{" and len(text[:position].encode()) < _JSON_SNIFF_BYTES
    return False


@dataclass(frozen=True)
class _Chunk:
    text: str
    line: int  # 1-based line of the chunk's first line in the file


# A line that starts with `---` but is not a bare separator (kubectl refuses it), a `...` or `%`
# line (kubectl leaves them to go-yaml inside one chunk), a lone CR or a BOM after the start: only
# then can kubectl's line-based split differ from YAML's own, and each chunk is parsed on its own.
_NEEDS_CHUNKS = re.compile(r"^(?:\.\.\.|%|---(?![ \t]*$|[ \t]+#))|\r", re.MULTILINE)
_BARE_SEPARATOR = re.compile(r"---(?:[ \t]*$|[ \t]+#)", re.MULTILINE)


def _needs_chunks(text: str) -> bool:
    """Whether _NEEDS_CHUNKS matches `text`, found from the few places where it can (running the
    pattern over every position cost about 4 % of loading)."""
    if "\r" in text or text.startswith(("...", "%")) or "\n..." in text or "\n%" in text:
        return True
    if text.startswith("---") and not _BARE_SEPARATOR.match(text):
        return True
    at = text.find("\n---")
    while at >= 0:
        if not _BARE_SEPARATOR.match(text, at + 1):
            return True
        at = text.find("\n---", at + 1)
    return False


def _kubectl_lines(text: str) -> str:
    """The text as kubectl's line reader hands it on: CRLF as LF, and a newline after the last line."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return text if not text or text.endswith("\n") else text + "\n"


def _chunks(text: str, first_line: int) -> Iterator[_Chunk]:
    """apimachinery's YAMLReader: a document ends at each line that starts with `---`; such a line
    that starts a document (nothing before it) stays in it, for go-yaml to read."""
    lines = text.split("\n")[:-1]  # the text ends with a newline
    start, chunk_lines = first_line, list[str]()
    for number, line in enumerate(lines, start=first_line):
        if line.startswith("---"):
            rest = line[3:].strip("".join(_GO_SPACE))
            if rest and not rest.startswith("#"):
                raise YamlError(
                    f"invalid document separator: {rest!r} after `---` (kubectl allows only a comment)",
                    number,
                )
            if chunk_lines:
                yield _Chunk("".join(f"{part}\n" for part in chunk_lines), start)
                start, chunk_lines = number + 1, []
                continue
        chunk_lines.append(line)
    if chunk_lines:
        yield _Chunk("".join(f"{part}\n" for part in chunk_lines), start)


# --- YAML documents ------------------------------------------------------------------------------

_STR = "tag:yaml.org,2002:str"
_PLAIN = "?plain"  # the resolver's mark for a plain scalar: resolved here, as go-yaml resolves it
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


@functools.cache
def _composers() -> tuple[Any, Any]:
    """(composer, composer that lets an anchor be defined again), each over libyaml's parser (in C,
    as PyYAML's wheels ship it) when PyYAML has it, else over PyYAML's own; made at first use."""
    parser: Any
    try:
        from yaml import cyaml

        parser = getattr(cyaml, "CParser", None)
    except ImportError:  # PyYAML built without libyaml
        parser = None

    class Resolver(yaml.resolver.BaseResolver):
        """Marks plain scalars; every other node keeps its explicit tag or is a string, map or list."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is yaml.ScalarNode:
                return _PLAIN if implicit[0] else _STR
            return _MAP if kind is yaml.MappingNode else _SEQ

    if parser is not None:

        class CComposer(parser, Resolver):  # type: ignore[misc]
            """libyaml's parser and composer with the resolver above."""

            # libyaml's composer calls these two around every node, for path resolvers that are
            # never registered here: builtins that take the same arguments and do nothing spare two
            # Python calls per node (a tenth of composing).
            descend_resolver = operator.is_  # type: ignore[assignment]
            ascend_resolver = tuple  # type: ignore[assignment]

            def __init__(self, stream: str) -> None:
                parser.__init__(self, stream)
                Resolver.__init__(self)

        class CRedefiningComposer(yaml.composer.Composer, parser, Resolver):  # type: ignore[misc]
            """PyYAML's composer over libyaml's events: only for a document that redefines an anchor."""

            def __init__(self, stream: str) -> None:
                parser.__init__(self, stream)
                yaml.composer.Composer.__init__(self)
                Resolver.__init__(self)

            def compose_node(self, parent: Any, index: Any) -> Any:
                return _compose_redefining(self, parent, index)

        return CComposer, CRedefiningComposer

    class PyComposer(
        yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, Resolver
    ):
        """The same, in Python (PyYAML without libyaml)."""

        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            Resolver.__init__(self)

        def dispose(self) -> None:
            pass

    class PyRedefiningComposer(PyComposer):
        def compose_node(self, parent: Any, index: Any) -> Any:
            return _compose_redefining(self, parent, index)

    return PyComposer, PyRedefiningComposer


def _compose_redefining(composer: Any, parent: Any, index: Any) -> Any:
    """PyYAML's compose_node, letting an anchor be defined again (go-yaml does; libyaml's and
    PyYAML's composers refuse)."""
    if not composer.check_event(yaml.AliasEvent):
        composer.anchors.pop(composer.peek_event().anchor, None)
    return yaml.composer.Composer.compose_node(composer, parent, index)


@dataclass(frozen=True)
class _Node:
    """A document's root node, where its text starts in the file, and the text it was parsed from."""

    node: Any
    offset: int  # lines before the parsed text in the file
    text: str


def _yaml_documents(text: str, *, first_line: int, first_index: int) -> Iterator[Document]:
    text = _kubectl_lines(text)
    if yamlblocks.usable(text) and not _needs_chunks(text):
        yield from _line_documents(text, first_line=first_line, first_index=first_index)
    else:
        yield from _parsed_documents(text, first_line=first_line, first_index=first_index)


def _line_documents(text: str, *, first_line: int, first_index: int) -> Iterator[Document]:
    """Documents read by `yamlblocks` while it can, then by the parser from the first one it leaves
    to the end of the text (an error may reach past a `---`: the parser then says what it says
    of the whole text). Every `---` line is a bare separator, so no document reaches into another."""
    lines = text.split("\n")[:-1]  # (the text ends with a newline)
    index = first_index
    start = 0
    for end in [*_separators(text), len(lines)]:
        read = yamlblocks.read(lines, start, end, _SCALARS)
        if read is None:
            rest = "".join(f"{part}\n" for part in lines[start:])
            yield from _parsed_documents(rest, first_line=first_line + start, first_index=index)
            return
        data, depth, line = read
        if line >= 0:  # (not a document of comments only)
            yield Document(index=index, line=first_line + line, data=data, depth=depth)
            index += 1
        start = end + 1


def _separators(text: str) -> list[int]:
    """The (0-based) lines of the text that start with `---`, found without a look at every line."""
    found = [0] if text.startswith("---") else []
    line, counted = 0, 0
    at = text.find("\n---")
    while at >= 0:
        line += text.count("\n", counted, at + 1)
        counted = at + 1
        found.append(line)
        at = text.find("\n---", at + 1)
    return found


def _plain_value(text: str) -> Any:
    """A plain scalar's JSON value, as _Builder._scalar gives it; yamlblocks.Decline where it refuses
    (the parser then says why, with the line)."""
    known = _PLAIN_VALUES.get(text, _UNKNOWN)  # (most numbers and booleans: found in one look)
    if known is not _UNKNOWN:
        return known
    hint = _HINTS.get(text[0])
    if hint is None or (hint == "M" and text not in _WORDS):
        return text
    try:
        return _plain_json(text)
    except _Refused:
        raise yamlblocks.Decline(text) from None


def _plain_json(text: str) -> Any:
    """The JSON value of an untagged plain scalar's text (raises _Refused), kept per text: manifests
    repeat a few that are not strings (ports, replicas, `true`), and each is immutable."""
    known = _PLAIN_VALUES.get(text, _UNKNOWN)
    if known is _UNKNOWN:
        known = _json_value(_resolve(text)[1])
        if len(_PLAIN_VALUES) < _PLAIN_VALUES_KEPT:
            _PLAIN_VALUES[text] = known
    return known


def _text_key(text: str) -> bool:
    """Whether a plain key is read as its own text (not a number, boolean, null or merge key)."""
    return text[0] not in _KEY_HINTS or (text != "<<" and type(_resolve(text)[1]) is str)


def _parsed_documents(text: str, *, first_line: int, first_index: int) -> Iterator[Document]:
    anchors = anchor_ends(text)
    scalar_anchors = any(_on_scalar(text, end) for end in anchors)
    # File lines (0-based) that hold an anchor: only a document that spans one is built with its
    # aliases measured; any other is a tree. A lone CR is a line break to libyaml and not to this
    # count, so then every document is measured, as is any a pattern missed (see _TREE_NODES).
    anchor_lines = [text.count("\n", 0, end) + first_line - 1 for end in anchors]
    every = bool(anchors) and "\r" in text
    index = first_index
    for found in _document_nodes(text, first_line):
        node = found.node
        line = node.start_mark.line + 1 + found.offset
        anchored = every or _spans_a_line(
            anchor_lines, node.start_mark.line + found.offset, node.end_mark.line + found.offset
        )
        data, depth = _build(found, anchors=anchored, scalar_anchors=scalar_anchors, line=line)
        yield Document(index=index, line=line, data=data, depth=depth)
        index += 1


def _spans_a_line(lines: Sequence[int], first: int, last: int) -> bool:
    """Whether a line of `lines` (in order) lies from `first` to `last`."""
    at = bisect.bisect_left(lines, first)
    return at < len(lines) and lines[at] <= last


# What may stand right before an anchor's `&` and what may not follow it (ANCHOR's two classes).
_BEFORE_ANCHOR = frozenset("[{,:?-")
_NOT_ANCHOR_NAME = frozenset(",[]{}&")


def anchor_ends(text: str) -> list[int]:
    """Where each match of ANCHOR in `text` ends, found without running the pattern over the whole
    text (that cost about 8 % of loading): only at each `&`."""
    ends = []
    at = text.find("&")
    while at >= 0:
        before = text[at - 1] if at else " "
        name = text[at + 1 : at + 2]
        if (
            (before in _BEFORE_ANCHOR or before.isspace())
            and name
            and not (name in _NOT_ANCHOR_NAME or name.isspace())
        ):
            ends.append(at + 2)
        at = text.find("&", at + 1)
    return ends


def _on_scalar(text: str, end: int) -> bool:
    """Whether the anchor whose match ends at `end` may stand on a scalar (not on a map or list
    that starts with `{`, `[` or on the next line)."""
    rest = text[end : end + 200].split("\n", 1)[0]
    after_name = rest.split(None, 1)
    if len(after_name) < 2:
        return False
    return not after_name[1].startswith(("{", "[", "#"))


def _document_nodes(text: str, first_line: int = 1) -> Iterator[_Node]:
    """The root node of every document kubectl reads (not empty, not null), in order."""
    text = _kubectl_lines(text)
    if not _needs_chunks(text) and text.find("\ufeff", 1) < 0:
        # Every line that starts with `---` is a bare separator: YAML's documents are kubectl's.
        yield from _parsed(text, first_line - 1, single=False)
        return
    for chunk in _chunks(text, first_line):
        yield from _parsed(chunk.text, chunk.line - 1, single=True)


def _parsed(text: str, offset: int, *, single: bool) -> Iterator[_Node]:
    """Documents of `text`; `single`: a chunk of kubectl's, of which go-yaml reads one document."""
    if "\n\ufeff" in text:
        # libyaml skips a byte-order mark at the start of a line; go-yaml only at the start of its
        # input, and reads any other as part of a key or value.
        line = text.count("\n", 0, text.index("\n\ufeff")) + 2 + offset
        raise YamlError(_BOM_INSIDE, line)
    yielded = 0
    composer, redefining = _composers()
    try:
        try:
            for found in _composed(composer(text), text, offset, single=single):
                yield found
                yielded += 1
        except yaml.composer.ComposerError as exc:
            if "found duplicate anchor" not in f"{exc.context} {exc.problem}":
                raise
            # Read again from the start, the documents given already skipped.
            again = _composed(redefining(text), text, offset, single=single)
            yield from itertools.islice(again, yielded, None)
    except _AfterEnd as exc:
        raise YamlError(_AFTER_END, exc.line + offset) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        if single and _ENDED.search("\n".join(text.split("\n")[: line - 1])):
            raise YamlError(_AFTER_END, line + offset) from exc
        raise YamlError(_describe(exc, text, line), line + offset) from exc
    except yaml.YAMLError as exc:
        raise YamlError(str(exc).splitlines()[0], offset + 1) from exc
    except RecursionError as exc:
        raise YamlError("the document is nested too deeply", offset + 1) from exc


_BOM_INSIDE = (
    "a byte-order mark (U+FEFF) starts this line: kubectl would read it as part of the key or "
    "value that follows (remove it)"
)
_ENDED = re.compile(r"^\.\.\.", re.MULTILINE)
_AFTER_END = (
    "content after the end of the document (after its root value or a `...` line): kubectl "
    "would silently ignore it (start a new document with a `---` line)"
)


def _composed(composer: Any, text: str, offset: int, *, single: bool) -> Iterator[_Node]:
    try:
        while _next_document(composer, text, None):
            node = composer.get_node()
            if node is None:
                break
            if single and _next_document(composer, text, node):
                line = composer.get_node().start_mark.line + 1 + offset
                raise YamlError(_AFTER_END, line)
            if not _is_null(node):
                yield _Node(node, offset, text)
            if not single and not _next_document(composer, text, node):
                break
    finally:
        composer.dispose()


def _next_document(composer: Any, text: str, previous: Any) -> bool:
    """Whether another document follows. A parse error here, right after a document and before any
    `---` line, is text after its root value: go-yaml stops reading there, silently."""
    try:
        return bool(composer.check_node())
    except yaml.MarkedYAMLError as exc:
        if previous is None or exc.problem_mark is None:
            raise
        end = previous.end_mark
        between = text.split("\n")[end.line + (1 if end.column else 0) : exc.problem_mark.line]
        if any(line.startswith("---") for line in between):
            raise  # a new document that starts with an error
        raise _AfterEnd(exc.problem_mark.line + 1) from exc


class _AfterEnd(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def _is_null(node: Any) -> bool:
    """A document kubectl skips: empty, comments only, or a null."""
    if type(node) is not yaml.ScalarNode:
        return False
    if node.tag == _PLAIN:
        return node.value in _NULLS
    return node.tag == _NULL and _resolve(node.value, _NULL)[0] == _NULL


def _describe(exc: yaml.MarkedYAMLError, text: str, line: int) -> str:
    problem = exc.problem or "invalid YAML"
    lines = text.splitlines()
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    if "\t" in source_line[: len(source_line) - len(source_line.lstrip())] or "\\t" in problem:
        return f"{problem} (line {line} is indented with a tab: YAML allows only spaces)"
    if problem == "found unexpected ':'":
        problem += " (kubectl reads a `:` right before `,` `]` or `}` as text: quote the value)"
    elif exc.context == "while scanning a tag":
        problem += f" ({_TAG_CHARS}: add a space after the tag)"
    elif problem == "found unknown escape character":
        problem += " (kubectl allows \\' in double quotes, this reader does not: write ' unescaped)"
    if exc.context:
        return f"{exc.context}: {problem}"
    return problem


# --- JSON streams --------------------------------------------------------------------------------

_JSON_SPACE = re.compile(r"[ \t\n\r]*")


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object with a key twice is an error, as in YAML (kubectl would keep the last)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _json_int(text: str) -> int:
    value = int(text)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise _Refused(_rounded_message(text))
    return value


def _json_float(text: str) -> float | int:
    value = float(text)
    if math.isinf(value):
        raise _Refused(f"the number {text} is beyond the range of a 64-bit float")
    return _whole_float(value)


class _NotJson(Exception):
    """NaN and Infinity: Python's JSON reads them, Go's (kubectl's) does not."""


def _json_constant(text: str) -> Any:
    raise _NotJson(text)


_JSON = json.JSONDecoder(
    object_pairs_hook=_unique_pairs,
    parse_int=_json_int,
    parse_float=_json_float,
    parse_constant=_json_constant,
)


def _json_then_yaml(text: str) -> Iterator[Document]:
    """apimachinery's YAMLOrJSONDecoder: JSON values one after another; YAML from where JSON first
    fails, unless two values were read already (then it is a JSON stream with an error)."""
    position = count = 0
    while True:
        start = _JSON_SPACE.match(text, position).end()  # type: ignore[union-attr]
        if start == len(text):
            return
        line = text.count("\n", 0, start) + 1
        try:
            data, end = _JSON.raw_decode(text, start)
        except (json.JSONDecodeError, _NotJson) as exc:
            message = _json_message(exc)
            if count > 1:
                raise YamlError(f"invalid JSON: {message}", line) from exc
            json_error = YamlError(f"invalid JSON: {message}", line)
            yield from _yaml_after_json(text, position, count, json_error)
            return
        except _DuplicateKey as exc:
            raise YamlError(f"duplicate key {exc.key!r}", _line_of_second(text, start, exc.key)) from exc
        except _Refused as exc:
            raise YamlError(exc.message, line) from exc
        except RecursionError as exc:
            raise YamlError("the document is nested too deeply", line) from exc
        if _surrogates_in(text, start, end, data):
            raise YamlError("a \\u escape names half of a surrogate pair, not a character", line)
        if data is not None:
            yield Document(index=count, line=line, data=data)
            count += 1
        position = end


def _yaml_after_json(text: str, position: int, count: int, json_error: YamlError) -> Iterator[Document]:
    # kubectl skips whitespace up to the end of the line where the last JSON value ended, reading
    # 4 bytes at a time: with fewer than 4 left it gives up and reports the JSON error.
    while True:
        if len(text[position : position + 4].encode()) < 4:
            if text[position:].strip("".join(_GO_SPACE)):
                raise json_error
            return
        char = text[position]
        if char not in _GO_SPACE:
            break
        position += 1
        if char == "\n":
            break
    # (kubectl reports JSON's error when YAML fails too; YAML's names the line of the problem.)
    first_line = text.count("\n", 0, position) + 1
    yield from _yaml_documents(text[position:], first_line=first_line, first_index=count)


def _json_message(exc: Exception) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else f"{exc} is not JSON"


def _surrogates_in(text: str, start: int, end: int, data: Any) -> bool:
    """Whether a string of the value holds a lone surrogate (kubectl would write U+FFFD instead)."""
    if "\\u" not in text[start:end] and "\\U" not in text[start:end]:
        return False
    return _any_string(data, _has_surrogate)


def _has_surrogate(value: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in value)


def _any_string(data: Any, test: Any) -> bool:
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if test(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _line_of_second(text: str, start: int, key: str) -> int:
    quoted = json.dumps(key)
    first = text.find(quoted, start)
    second = text.find(quoted, first + 1)
    return text.count("\n", 0, second if second >= 0 else max(first, 0)) + 1


# --- scalars as go-yaml v2 resolves them, as JSON as kubectl sends them -----------------------------

_BOOL, _INT, _FLOAT = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_NULL, _TIMESTAMP = "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp"
_BINARY, _MERGE = "tag:yaml.org,2002:binary", "tag:yaml.org,2002:merge"
_RESOLVABLE = frozenset({_STR, _BOOL, _INT, _FLOAT, _NULL, _TIMESTAMP})
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1

# go-yaml's resolve table: a plain scalar can be other than a string only if it starts with one of these.
_HINTS = dict.fromkeys("+-", "S") | dict.fromkeys("0123456789", "D") | dict.fromkeys("yYnNtTfFoO~", "M")
_HINTS["."] = "."
_WORDS: dict[str, tuple[str, Any]] = {}
for _words, _resolved in (
    ("y Y yes Yes YES true True TRUE on On ON", (_BOOL, True)),
    ("n N no No NO false False FALSE off Off OFF", (_BOOL, False)),
    ("~ null Null NULL", (_NULL, None)),
    (".nan .NaN .NAN", (_FLOAT, math.nan)),
    (".inf .Inf .INF +.inf +.Inf +.INF", (_FLOAT, math.inf)),
    ("-.inf -.Inf -.INF", (_FLOAT, -math.inf)),
    ("<<", (_MERGE, "<<")),
):
    _WORDS.update(dict.fromkeys(_words.split(), _resolved))
_WORDS[""] = (_NULL, None)
_KEY_HINTS = frozenset(_HINTS) | {"<"}  # and a key may be the merge key `<<`
_NULLS = frozenset(word for word, (tag, _) in _WORDS.items() if tag == _NULL)

# strconv.ParseInt(s, 0, 64) once go-yaml has dropped every `_`
_GO_INT = re.compile(r"[-+]?(?:0[bB][01]+|0[oO][0-7]+|0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\Z")
_BASES = {"b": 2, "o": 8, "x": 16}
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_DECIMAL = re.compile(r"[-+]?[0-9]+\Z")
# strconv.ParseFloat of a scalar that starts with `.` (it allows `_` between digits)
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+(?:_[0-9]+)*)?\Z")
# go-yaml's timestamp layouts, as Go's time.Parse reads them (checked only for `!!timestamp`)
_TIMESTAMP_TEXT = re.compile(
    r"(\d{4})-(\d\d?)-(\d\d?)"
    r"(?:(?:[Tt](\d\d?):(\d\d?):(\d\d?)(?:[.,]\d+)?(?:Z|[+-](\d\d):(\d\d)))"
    r"|(?: +(\d\d?):(\d\d?):(\d\d?)(?:[.,]\d+)?))?\Z"
)


class _Uint:
    """An integer that go-yaml reads as uint64: kubectl sends it rounded to a float."""

    def __init__(self, text: str) -> None:
        self.text = text


class _Rounded:
    """An integer beyond uint64 that go-yaml reads as a float: kubectl sends it rounded."""

    def __init__(self, text: str) -> None:
        self.text = text


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _rounded_message(text: str) -> str:
    return (
        f"the integer {text} does not fit in 64 bits: kubectl would send it rounded to a float "
        "(quote it to keep it as text)"
    )


def _resolve(value: str, tag: str = "") -> tuple[str, Any]:
    """go-yaml v2's resolve(): the tag and Go value of a scalar's text (tag: explicit, or "" if plain)."""
    hint = _HINTS.get(value[:1]) if value else "N"
    if hint is None or tag == _STR:
        return _STR, value
    word = _WORDS.get(value)
    if word is not None:
        return word
    if hint == ".":
        if _DOT_FLOAT.match(value):
            number = float(value.replace("_", ""))
            if not math.isinf(number):
                return _FLOAT, number
    elif hint != "M":
        if tag in ("", _TIMESTAMP) and _is_timestamp(value):
            return _TIMESTAMP, value
        return _resolve_number(value)
    return _STR, value


def _resolve_number(value: str) -> tuple[str, Any]:
    plain = value.replace("_", "")
    if _GO_INT.match(plain):
        number = _go_int(plain)
        if _INT64_MIN <= number <= _INT64_MAX:
            return _INT, number
        if plain[0] not in "+-" and number <= _UINT64_MAX:
            return _INT, _Uint(value)
    if _YAML_FLOAT.match(plain):
        real = float(plain)
        if not math.isinf(real):
            if _DECIMAL.match(plain) and not _INT64_MIN <= int(plain) <= _INT64_MAX:
                return _FLOAT, _Rounded(value)
            return _FLOAT, real
    return _STR, value


def _go_int(text: str) -> int:
    sign = -1 if text[0] == "-" else 1
    digits = text[1:] if text[0] in "+-" else text
    prefix = digits[:2].lower()
    if prefix in ("0b", "0o", "0x"):
        return sign * int(digits[2:], _BASES[prefix[1]])
    if len(digits) > 1 and digits[0] == "0":
        return sign * int(digits[1:], 8)  # a leading 0 is octal, as in Go
    return sign * int(digits)


def _is_timestamp(text: str) -> bool:
    """Whether one of go-yaml's layouts parses `text` (Go's time.Parse checks every range)."""
    match = _TIMESTAMP_TEXT.match(text)
    if match is None:
        return False
    year, month, day = (int(part) for part in match.group(1, 2, 3))
    if not 1 <= month <= 12 or not 1 <= day <= _days_in(year, month):
        return False
    clock = match.group(4, 5, 6) if match.group(4) else match.group(9, 10, 11)
    if clock[0] is not None and not (int(clock[0]) < 24 and int(clock[1]) < 60 and int(clock[2]) < 60):
        return False
    zone = match.group(7, 8)
    return zone[0] is None or (int(zone[0]) <= 24 and int(zone[1]) <= 60)


def _days_in(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _tagged(tag: str, value: str) -> Any:
    """go-yaml's value for a scalar with an explicit tag."""
    if tag == _BINARY:
        return _binary(value)
    if tag not in _RESOLVABLE:
        return value  # an unknown tag (`!foo`, `!!set`, `!!python/...`): go-yaml keeps the text
    resolved_tag, resolved = _resolve(value, tag)
    if resolved_tag == tag:
        return float(resolved.text) if isinstance(resolved, _Rounded) else resolved
    if tag == _FLOAT and resolved_tag == _INT and isinstance(resolved, int):
        return float(resolved)
    raise _Refused(f"cannot decode {_short(resolved_tag)} `{value}` as a {_short(tag)}")


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:")


def _binary(value: str) -> str:
    # Go's base64 decoder skips line breaks; anything else outside the alphabet is an error.
    data = value.replace("\n", "").replace("\r", "")
    try:
        if len(data) % 4:  # Go's decoder wants whole padded quanta; Python's strict mode lets "x=" by
            raise binascii.Error
        decoded = binascii.a2b_base64(data.encode("ascii"), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error):
        raise _Refused("!!binary value contains invalid base64 data") from None
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(
            "!!binary value is not UTF-8 text: kubectl would replace its bytes with U+FFFD "
            "(a Secret's `data` takes base64 without the tag)"
        ) from None


def _whole_float(number: float) -> float | int:
    """A float as kubectl sends it: one with an integer value (below 1e21) is written as an integer."""
    if number.is_integer() and abs(number) < 1e21:
        if abs(number) < 2**53:
            return int(number)
        import decimal  # here: 2 ms of start-up for the rare number this large

        return int(decimal.Decimal(repr(number)))
    return number


def _json_value(value: Any) -> Any:
    """The Go value of a scalar as JSON, or _Refused where kubectl refuses or would change it."""
    kind = type(value)
    if kind is float:
        if math.isnan(value) or math.isinf(value):
            raise _Refused(f"{_go_float(value)} is not a JSON number: kubectl refuses it too (quote it)")
        return _whole_float(value)
    if kind is _Uint or kind is _Rounded:
        raise _Refused(_rounded_message(value.text))
    return value


def _json_key(value: Any) -> tuple[str, str]:
    """(JSON key, kind) of a scalar key, as sigs.k8s.io/yaml writes it."""
    kind = type(value)
    if kind is str:
        return value, "string"
    if kind is bool:
        return ("true" if value else "false"), "bool"
    if kind is int:
        return str(value), "int"
    if kind is float:
        return _go_float(value), "float"
    if kind is _Rounded:
        raise _Refused(_rounded_message(value.text))
    kind_name = "uint64" if kind is _Uint else "null"
    raise _Refused(f"a mapping key may not be {kind_name} (kubectl refuses it too)")


def _go_float(number: float) -> str:
    """strconv.FormatFloat(number, 'g', -1, 32), with go-yaml's names for the infinities and NaN."""
    if math.isnan(number):
        return ".nan"
    single = _float32(number)
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    if single == 0:
        return "-0" if math.copysign(1, single) < 0 else "0"
    for precision in range(9):
        text = f"{single:.{precision}e}"
        if _float32(float(text)) == single:
            break
    mantissa, exponent = text.split("e")
    digits = mantissa.replace(".", "").replace("-", "").rstrip("0") or "0"
    sign, power = "-" if single < 0 else "", int(exponent)
    if power < -4 or power >= 6:
        fraction = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{fraction}e{'-' if power < 0 else '+'}{abs(power):02d}"
    point = power + 1
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _float32(number: float) -> float:
    try:
        single: float = struct.unpack("f", struct.pack("f", number))[0]
    except OverflowError:
        return math.copysign(math.inf, number)
    return single


# --- documents from nodes ------------------------------------------------------------------------

ANCHOR = re.compile(r"(?:^|[\s\[{,:?-])&[^\s,\[\]{}&]")  # "&name" where YAML allows an anchor, not "a&b"
# A bare `!` tag (go-yaml keeps its scalar as text; libyaml's composer resolves it as if plain)
_BARE_TAG = re.compile(r"(?:^|[\s\[{,:?-])!(?=[\s,\]}]|\Z)", re.MULTILINE)
# apimachinery's alias bomb bound, as go-yaml v2 applies it (decode.go allowedAliasRatio)
_ALIAS_RATIO_LOW, _ALIAS_RATIO_HIGH = 400_000, 4_000_000
# Without anchors a document is a tree; this many nodes would mean aliases the pattern missed.
_TREE_NODES = 5_000_000


class _Excessive(Exception):
    """Aliases expand the document past go-yaml's bound."""


def _allowed_alias_ratio(decoded: int) -> float:
    if decoded <= _ALIAS_RATIO_LOW:
        return 0.99
    if decoded >= _ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _ALIAS_RATIO_LOW) / (_ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW)


def _build(found: _Node, *, anchors: bool, scalar_anchors: bool, line: int) -> tuple[Any, int | None]:
    """The document's value, and how deep it nests (never less than it does)."""
    builder = _Builder(found, scalar_anchors)
    try:
        builder.check_scanner()
        if not anchors:
            try:
                return builder.tree(found.node), builder.deepest
            except _Excessive:
                builder = _Builder(found, True)  # aliases after all: build again, measuring them
        return builder.shared(found.node), builder.deepest
    except _Refused as exc:
        raise YamlError(exc.message, builder.line) from None
    except _Excessive:
        raise YamlError(
            "aliases expand this document too much: kubectl refuses it too (excessive aliasing)", line
        ) from None
    except RecursionError:
        raise YamlError(
            "the document is nested too deeply, or an anchor's value holds an alias of itself "
            "(kubectl refuses both)",
            line,
        ) from None


class _Keys:
    """The keys of a map being built once a merge or a non-string key makes them need care.

    go-yaml builds a Go map whose keys keep their types, and sigs.k8s.io/yaml writes each as a
    string: 1 and "1" would become one JSON key with either value. Merged keys may override (that is
    what merging is), keys written in the map itself may not repeat.
    """

    __slots__ = ("explicit", "kinds")

    def __init__(self, result: dict[str, Any]) -> None:
        self.kinds = dict.fromkeys(result, "string")  # JSON key -> the type of the YAML key
        self.explicit: set[str] | None = None  # keys written in the map, once a merge has happened

    def put(self, result: dict[str, Any], key: str, kind: str) -> str | None:
        """Why `key` may not be set now, or None."""
        if key in result:
            if self.kinds[key] != kind:
                return _ambiguous(key)
            if self.explicit is None or key in self.explicit:
                return _duplicate(key)
        self.kinds[key] = kind
        if self.explicit is not None:
            self.explicit.add(key)
        return None

    def merge(
        self, result: dict[str, Any], values: dict[str, Any], kinds: dict[str, str] | None
    ) -> str | None:
        if self.explicit is None:
            self.explicit = set(result)
        for key, value in values.items():
            kind = kinds.get(key, "string") if kinds else "string"
            if self.kinds.get(key, kind) != kind:
                return _ambiguous(key)
            result[key] = value
            self.kinds[key] = kind
        return None


# The JSON values of plain scalars that are not strings (numbers, booleans, null), by their text:
# manifests repeat a few (ports, replicas, `true`), and each is immutable. Refused texts are not kept.
_PLAIN_VALUES: dict[str, Any] = {}
_PLAIN_VALUES_KEPT = 4096
_UNKNOWN = object()


class _Builder:
    """One document's value, as go-yaml v2 decodes it into interface{} and sigs.k8s.io/yaml writes
    it as JSON: maps with string keys, lists, and scalars.

    `tree` builds a document without anchors, visiting each node once. `shared` builds a document
    with anchors: an aliased collection is built once and its value shared (as PyYAML shared it),
    and go-yaml's decode counts are kept per node, so that its excessive-aliasing bound costs
    nothing to check however far aliases would expand. Merge keys (`<<`) apply in order, as in
    go-yaml: a merged key overrides a key written before the `<<`, a key written after it
    overrides the merge, and of a list of merged maps the earlier ones win.
    """

    def __init__(self, found: _Node, scalar_anchors: bool) -> None:
        self._found = found
        self._bare_tags = "!" in found.text and _BARE_TAG.search(found.text) is not None
        self._lines: list[str] | None = None
        self._nodes = 0
        self._level = 0  # maps and lists around the node in hand
        self.deepest = 0  # the most maps and lists around any node so far (a merged map counts one)
        self.line = found.node.start_mark.line + 1 + found.offset  # of the node in hand, for errors
        # shared(): per collection node id, (value, go-yaml decode count, key types of a map, depth)
        self._done: dict[int, tuple[Any, int, dict[str, str] | None, int]] = {}
        self._scalars: set[int] = set()
        self._scalar_anchors = scalar_anchors
        self._decoded, self._aliased = 1, 0  # go-yaml counts the document node

    def check_scanner(self) -> None:
        """Refuse what go-yaml's scanner (libyaml 0.1's) reads differently from libyaml 0.2's: a `?`
        inside a plain scalar in a flow collection (go-yaml ends the scalar there) and the `\\/`
        escape in double quotes (go-yaml refuses it)."""
        text = self._found.text
        if "!" in text:
            glued = _GLUED_TAG.search(text)
            if glued is not None:
                self.line = text.count("\n", 0, glued.start()) + 1 + self._found.offset
                raise _Refused(
                    f"the tag {glued.group(1)} is followed by {glued.group(2)!r} without a space: "
                    f"{_TAG_CHARS} (add a space)"
                )
        question = "?" in text and ("[" in text or "{" in text)
        slash = "\\/" in text
        if not (question or slash):
            return
        stack, seen = [(self._found.node, False)], set()
        while stack:
            node, in_flow = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if type(node) is yaml.ScalarNode:
                if question and in_flow and not node.style and "?" in node.value:
                    raise self._refuse(node, _FLOW_QUESTION)
                if slash and node.style == '"' and _SLASH_ESCAPE.search(self._source(node)):
                    raise self._refuse(
                        node, "found unknown escape character \\/ (kubectl refuses it): write /"
                    )
                continue
            flow = in_flow or bool(node.flow_style)
            children = (
                node.value if type(node) is yaml.SequenceNode else [n for pair in node.value for n in pair]
            )
            stack.extend((child, flow) for child in children)

    def _source(self, node: Any) -> str:
        if self._lines is None:
            self._lines = self._found.text.split("\n")
        start, end = node.start_mark, node.end_mark
        if start.line == end.line:
            return str(self._lines[start.line][start.column : end.column])
        return "\n".join(
            [self._lines[start.line][start.column :], *self._lines[start.line + 1 : end.line + 1]]
        )

    # -- documents without anchors --

    def tree(self, node: Any) -> Any:
        self._count_tree_nodes(1)
        return self._tree(node)

    def _tree(self, node: Any) -> Any:
        kind = type(node)
        if kind is yaml.ScalarNode:
            return self._scalar(node)
        if kind is yaml.SequenceNode:
            items = node.value
            self._count_tree_nodes(len(items))
            self._enter()
            built = [self._tree_value(item) for item in items]
            self._level -= 1
            return built
        return self._tree_mapping(node)[0]

    def _enter(self) -> None:
        self._level += 1
        if self._level > self.deepest:
            self.deepest = self._level

    def _count_tree_nodes(self, count: int) -> None:
        self._nodes += count
        if self._nodes > _TREE_NODES:
            raise _Excessive

    def _tree_value(self, node: Any) -> Any:
        """_tree(node), with a string (most values of a manifest) taken without a call."""
        if type(node) is yaml.ScalarNode:
            tag, text = node.tag, node.value
            if tag == _STR:
                return text
            if tag == _PLAIN and text:
                hint = _HINTS.get(text[0])
                if hint is None or (hint == "M" and text not in _WORDS):
                    return text
            return self._scalar(node)
        return self._tree(node)

    def _tree_mapping(self, node: Any) -> tuple[dict[str, Any], dict[str, str] | None]:
        try:
            return self._tree_mapping_unchecked(node)
        except _Refused:
            self._refuse_duplicates(node)
            raise

    def _tree_mapping_unchecked(self, node: Any) -> tuple[dict[str, Any], dict[str, str] | None]:
        result: dict[str, Any] = {}
        keys: _Keys | None = None
        pairs = node.value
        self._count_tree_nodes(len(pairs))
        self._enter()  # (a merged map counts as a level of its own: more than it adds, never less)
        for key_node, value_node in pairs:
            if keys is None and type(key_node) is yaml.ScalarNode and key_node.tag == _PLAIN:
                key = key_node.value  # most keys: plain text that no resolving could turn into another type
                if key and key[0] not in _KEY_HINTS:
                    if key in result:
                        raise self._refuse(key_node, _duplicate(key, node, key_node, self._found.offset))
                    result[key] = self._tree_value(value_node)
                    continue
            key, kind = self._key(key_node)
            if keys is None:
                if kind == "string":
                    if key in result:
                        raise self._refuse(key_node, _duplicate(key, node, key_node, self._found.offset))
                    result[key] = self._tree_value(value_node)
                    continue
                keys = _Keys(result)
            if kind == "merge":
                self._merge(key_node, value_node, result, keys, self._tree_mapping)
            else:
                self._put(result, keys, key, kind, key_node, self._tree_value(value_node))
        self._level -= 1
        return result, keys.kinds if keys is not None else None

    # -- documents with anchors --

    def shared(self, node: Any) -> Any:
        value = self._shared(node)[0]
        self._check_aliasing()
        return value

    def _shared(self, node: Any) -> tuple[Any, dict[str, str] | None]:
        if type(node) is yaml.ScalarNode:
            self._count_scalar(node)
            return self._scalar(node), None
        known = self._done.get(id(node))
        if known is not None:  # an alias: go-yaml decodes the alias node, then the whole anchored value
            self._alias(known[1])
            self.deepest = max(self.deepest, self._level + known[3])
            return known[0], known[2]
        # (An alias inside its own anchor's value recurses until RecursionError: see _build.)
        before = self._decoded
        self._decoded += 1
        self._level += 1
        outside, self.deepest = self.deepest, self._level  # to measure this value's own depth
        kinds: dict[str, str] | None = None
        value: Any
        if type(node) is yaml.SequenceNode:
            value = [self._shared_value(item) for item in node.value]
        else:
            value, kinds = self._shared_mapping(node)
        depth = self.deepest - self._level + 1
        self.deepest = max(outside, self.deepest)
        self._level -= 1
        self._done[id(node)] = (value, self._decoded - before, kinds, depth)
        return value, kinds

    def _shared_mapping(self, node: Any) -> tuple[dict[str, Any], dict[str, str] | None]:
        try:
            return self._shared_mapping_unchecked(node)
        except _Refused:
            self._refuse_duplicates(node)
            raise

    def _shared_mapping_unchecked(self, node: Any) -> tuple[dict[str, Any], dict[str, str] | None]:
        result: dict[str, Any] = {}
        keys: _Keys | None = None
        for key_node, value_node in node.value:
            if type(key_node) is yaml.ScalarNode:
                text = key_node.value
                if text == "<<" and self._is_merge(key_node):
                    keys = keys or _Keys(result)
                    self._merge(key_node, value_node, result, keys, self._shared)
                    continue
                self._count_scalar(key_node)
                if key_node.tag == _PLAIN and text and text[0] not in _KEY_HINTS:
                    key, kind = text, "string"
                else:
                    key, kind = self._key(key_node)
            else:
                key, kind = self._key(key_node)
            if keys is None and kind != "string":
                keys = _Keys(result)
            if keys is None:
                if key in result:
                    raise self._refuse(key_node, _duplicate(key, node, key_node, self._found.offset))
                result[key] = self._shared_value(value_node)
            else:
                self._put(result, keys, key, kind, key_node, self._shared_value(value_node))
        return result, keys.kinds if keys is not None else None

    def _shared_value(self, node: Any) -> Any:
        """_shared(node)'s value, with a string taken without a call where no scalar has an anchor.
        The string test is _tree_value's, written out again on purpose: a call per scalar is the cost
        both save."""
        if type(node) is yaml.ScalarNode and not self._scalar_anchors:
            self._decoded += 1
            tag, text = node.tag, node.value
            if tag == _STR:
                return text
            if tag == _PLAIN and text:
                hint = _HINTS.get(text[0])
                if hint is None or (hint == "M" and text not in _WORDS):
                    return text
            return self._scalar(node)
        return self._shared(node)[0]

    def _refuse_duplicates(self, node: Any) -> None:
        """A key twice in a map whose building was refused is the first thing to say: kubectl keeps
        only the last value, so what was refused may be a value kubectl would never have read."""
        seen: dict[str, str] = {}
        for key_node, _ in node.value:
            try:
                key, kind = self._key(key_node)
            except _Refused:
                continue
            if kind != "merge" and key in seen:
                problem = _duplicate(key, node, key_node, self._found.offset)
                raise self._refuse(key_node, problem if seen[key] == kind else _ambiguous(key))
            seen[key] = kind

    def _count_scalar(self, node: Any) -> None:
        # Scalars are remembered only when one has an anchor: most anchored manifests (yaml.dump's
        # &id001) anchor maps, and remembering every scalar was a fifth of their loading time.
        if self._scalar_anchors:
            if id(node) in self._scalars:
                self._alias(1)
                return
            self._scalars.add(id(node))
        self._decoded += 1

    def _alias(self, count: int) -> None:
        self._decoded += 1 + count
        self._aliased += count
        self._check_aliasing()

    def _check_aliasing(self) -> None:
        decoded, aliased = self._decoded, self._aliased
        if aliased > 100 and decoded > 1000 and aliased / decoded > _allowed_alias_ratio(decoded):
            raise _Excessive

    # -- shared by both --

    def _key(self, node: Any) -> tuple[str, str]:
        """(JSON key, type of the YAML key) of a key node; the type is "merge" for a merge key."""
        if type(node) is not yaml.ScalarNode:
            raise self._refuse(node, _mapping_key_problem(node))
        if node.tag == _PLAIN:
            text = node.value
            if text and text[0] not in _KEY_HINTS:
                return text, "string"
        if self._is_merge(node):
            return "<<", "merge"
        key: tuple[str, str] = self._at(node, _json_key, self._scalar_go(node))
        return key

    @staticmethod
    def _is_merge(node: Any) -> bool:
        return node.value == "<<" and node.tag in (_PLAIN, _MERGE)

    def _merge(self, at: Any, node: Any, result: dict[str, Any], keys: _Keys, build: Any) -> None:
        """Merge the map at `node`, or each map of the list at `node` (the last first), into `result`;
        problems are named at the merge key `at` (an alias's node stands where its anchor is)."""
        kind = type(node)
        if kind is yaml.MappingNode:
            sources = [node]
        elif (
            kind is yaml.SequenceNode
            and id(node) not in self._done  # an alias of a list: go-yaml wants a map
            and all(type(source) is yaml.MappingNode for source in node.value)
        ):
            sources = node.value[::-1]
        else:
            raise self._refuse(at, "a merge key (<<) takes a map or a list of maps (kubectl refuses it too)")
        for source in sources:
            values, kinds = build(source)
            problem = keys.merge(result, values, kinds)
            if problem:
                raise self._refuse(at, problem)

    def _put(self, result: dict[str, Any], keys: _Keys, key: str, kind: str, node: Any, value: Any) -> None:
        problem = keys.put(result, key, kind)
        if problem:
            raise self._refuse(node, problem)
        result[key] = value

    def _scalar(self, node: Any) -> Any:
        if node.tag == _PLAIN:
            text = node.value
            if text:
                hint = _HINTS.get(text[0])
                if hint is None or (hint == "M" and text not in _WORDS):
                    return text
            if not self._bare_tags:  # then the value of a plain scalar depends on its text alone
                return self._at(node, _plain_json, text)
        elif node.tag == _STR:
            return node.value
        return self._at(node, _json_value, self._scalar_go(node))

    def _scalar_go(self, node: Any) -> Any:
        """go-yaml's Go value of a scalar node."""
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag != _PLAIN:
            return self._at(node, _tagged, tag, node.value)
        resolved = _resolve(node.value)[1]
        if type(resolved) is not str and self._bare_tags and self._has_bare_tag(node):
            return node.value
        return resolved

    def _has_bare_tag(self, node: Any) -> bool:
        if self._lines is None:
            self._lines = self._found.text.split("\n")
        mark = node.start_mark
        rest = self._lines[mark.line][mark.column :] if mark.line < len(self._lines) else ""
        for word in rest.split()[:2]:
            if word == "!":
                return True
            if not word.startswith(("!", "&")):
                return False
        return False

    def _at(self, node: Any, convert: Any, *args: Any) -> Any:
        try:
            return convert(*args)
        except _Refused:
            self.line = node.start_mark.line + 1 + self._found.offset
            raise

    def _refuse(self, node: Any, message: str) -> _Refused:
        self.line = node.start_mark.line + 1 + self._found.offset
        return _Refused(message)


_TAG_CHARS = "kubectl's YAML parser takes `,` `[` `]` into a tag"
# A tag directly followed by `,` `[` or `]`: go-yaml (libyaml 0.1) takes them into the tag.
_GLUED_TAG = re.compile(r"(?:^|[\s\[{,:?-])(!(?!<)[^\s,\[\]{}]*)([,\[\]])", re.MULTILINE)
_FLOW_QUESTION = (
    "a plain value inside [ ] or { } holds a `?`: kubectl's YAML parser ends the value there "
    "and refuses the file (quote the value)"
)
_SLASH_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\/")


def _duplicate(key: str, mapping: Any = None, second: Any = None, offset: int = 0) -> str:
    where = ""
    if mapping is not None:
        first = next((k for k, _ in mapping.value if k is not second and k.value == key), None)
        where = f" (first at line {first.start_mark.line + 1 + offset})" if first is not None else ""
    return f"duplicate key {key!r}{where}: kubectl would silently keep the last one"


def _mapping_key_problem(node: Any) -> str:
    kind = "list" if type(node) is yaml.SequenceNode else "dict"
    return f"a mapping key must be a plain value, not {kind}"


def _ambiguous(key: str) -> str:
    return (
        f"two keys are written as {key!r} in JSON (say a number and a string): kubectl would keep either one"
    )


# What `yamlblocks` asks of plain scalars (a key that starts with `<` may be the merge key).
_SCALARS = yamlblocks.Scalars(_plain_value, _text_key, frozenset(_KEY_HINTS))
