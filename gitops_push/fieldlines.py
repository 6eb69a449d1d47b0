"""The line of a field in a manifest's file, so that an error points at the field, not at the object.

Used by `validating` (a schema error's field) and `applying` (the field a dry-run rejection names).

Files are read (through a `text_of` callable) only when a finding needs a line, and once. A manifest
that is an item of a `kind: List` is looked up below that item; one that cannot be placed keeps the
line of its document.

A rendered manifest's lines count in the text its source location names (`LineBasis`): a Helm
object's in its template's rendered text, which holds the object exactly as rendered; a kustomize
object's in its source file at the rendered commit. kustomize may have changed any field on the way
(patches, prefixes, labels, images, a generator made the object): a field's line there is taken only
when that document is the object's (same apiVersion and kind, its name inside the object's) and
holds the same value at the same path, the list items on the way having the same names. Otherwise
the finding keeps its document's line and says why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from gitops_push import yamltext
from gitops_push.model import LineBasis, Manifest

BUILT_FIELD_CHANGED = "kustomize made or changed this field: the line is its document's"
_ABSENT = object()  # no value at a path (None is a value: `field: null`)


class Lines:
    """The line of a field in a manifest's file; files are read once, and only when a finding needs one."""

    def __init__(self, text_of: Callable[[str], str]) -> None:
        self._text_of = text_of
        self._texts: dict[str, str | None] = {}
        self._list_items: dict[tuple[str, int], list[Any] | None] = {}
        self._documents: dict[tuple[str, int], Any] = {}

    def locate(self, manifest: Manifest, path: list[str | int]) -> tuple[int, str]:
        """The line of the field at `path`, and a note when it is only the document's line (else "")."""
        source = manifest.source
        if source.basis is LineBasis.BUILT and path and not self._same_in_source(manifest, path):
            return source.line, BUILT_FIELD_CHANGED
        return self._field_line(manifest, path), ""

    def _field_line(self, manifest: Manifest, path: list[str | int]) -> int:
        source = manifest.source
        text = self._text(source.path)
        if not text:
            return source.line
        prefix = self._list_prefix(manifest, text)
        if prefix is None:
            # An item of a `kind: List` we could not place: the document's own fields would mislead.
            return source.line
        line = yamltext.line_of(text, source.document, [*prefix, *path])
        return line if line is not None else source.line

    def _text(self, path: str) -> str | None:
        if path not in self._texts:
            try:
                self._texts[path] = self._text_of(path)
            except (OSError, KeyError, ValueError):
                self._texts[path] = None
        return self._texts[path]

    def _same_in_source(self, manifest: Manifest, path: list[str | int]) -> bool:
        """Whether the source document is the object's and holds the same value at `path`."""
        source = manifest.source
        key = (source.path, source.document)
        if key not in self._documents:
            self._documents[key] = _document_data(self._text(source.path) or "", source.document)
        document = self._documents[key]
        if not _same_object(document, manifest):
            return False
        return _same_at(manifest.body, document, path)

    def _list_prefix(self, manifest: Manifest, text: str) -> list[str | int] | None:
        """[] for a manifest that is its document; ['items', i] for item i of a List; None if unplaced."""
        items = self._items(manifest.source.path, manifest.source.document, text)
        if items is None:
            return []
        for index, item in enumerate(items):
            if _is_item_of(item, manifest):
                return ["items", index]
        return None

    def _items(self, path: str, document: int, text: str) -> list[Any] | None:
        key = (path, document)
        if key not in self._list_items:
            self._list_items[key] = _list_items(text, document)
        return self._list_items[key]


def _list_items(text: str, document: int) -> list[Any] | None:
    try:
        for doc in yamltext.load_documents(text):
            if doc.index == document:
                data = doc.data
                is_list = isinstance(data, dict) and str(data.get("kind", "")).endswith("List")
                return list(data["items"]) if is_list and isinstance(data.get("items"), list) else None
    except yamltext.YamlError:
        return None
    return None


def _document_data(text: str, document: int) -> Any:
    try:
        return next((doc.data for doc in yamltext.load_documents(text) if doc.index == document), None)
    except yamltext.YamlError:
        return None


def _same_object(document: Any, manifest: Manifest) -> bool:
    """The document is the object before the build: same apiVersion and kind, and (a namePrefix or
    nameSuffix aside) its name inside the object's."""
    if not isinstance(document, dict) or not isinstance(document.get("metadata"), dict):
        return False
    name = document["metadata"].get("name")
    same_type = (
        document.get("apiVersion") == manifest.api_version and document.get("kind") == manifest.ref.kind
    )
    return same_type and isinstance(name, str) and bool(name) and name in manifest.ref.name


def _same_at(built: Any, written: Any, path: list[str | int]) -> bool:
    """Whether both hold the same value at `path`. A list item on the way counts only if, where the
    built object's item has a name, the written one at that index has the same (a patch may insert
    items: the same index is then another item)."""
    for step in path:
        built, written = _child(built, step), _child(written, step)
        if built is _ABSENT or written is _ABSENT:
            return False
        if isinstance(step, int) and not _same_item(built, written):
            return False
    return bool(built == written)


def _same_item(built: Any, written: Any) -> bool:
    """A built list item with a name is the written item only if that has the same name."""
    if not isinstance(built, dict) or "name" not in built:
        return True
    return isinstance(written, dict) and written.get("name") == built["name"]


def _child(value: Any, step: str | int) -> Any:
    if isinstance(step, int) and isinstance(value, list) and 0 <= step < len(value):
        return value[step]
    if isinstance(step, str) and isinstance(value, dict) and step in value:
        return value[step]
    return _ABSENT


def _is_item_of(item: Any, manifest: Manifest) -> bool:
    if not isinstance(item, dict) or not isinstance(item.get("metadata"), dict):
        return False
    return item.get("kind") == manifest.ref.kind and item["metadata"].get("name") == manifest.ref.name


def field_path(field: str) -> list[str | int] | None:
    """An API error's field ('spec.ports[0].nodePort') as a path; None for one it spells otherwise."""
    path: list[str | int] = []
    for part in field.split("."):
        match = _FIELD_PART.fullmatch(part)
        if match is None:
            return None
        path.append(match.group(1))
        path += [int(index) for index in re.findall(r"\[(\d+)\]", match.group(2))]
    return path


_FIELD_PART = re.compile(r"([A-Za-z0-9_$-]+)((?:\[\d+\])*)")
