"""The line of a field in a manifest's file, so that a finding points at the field, not at the object.

Files are read (through a `text_of` callable) only when a finding needs a line, and once. A manifest
that is an item of a `kind: List` is looked up below that item; one that cannot be placed keeps the
line of its document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitops_push import yamltext
from gitops_push.model import Manifest


class Lines:
    """The line of a field in a manifest's file; files are read once, and only when a finding needs one."""

    def __init__(self, text_of: Callable[[str], str]) -> None:
        self._text_of = text_of
        self._texts: dict[str, str | None] = {}
        self._list_items: dict[tuple[str, int], list[Any] | None] = {}

    def line_of(self, manifest: Manifest, path: list[str | int]) -> int:
        source = manifest.source
        text = self._text(source.path)
        if text is None:
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


def _is_item_of(item: Any, manifest: Manifest) -> bool:
    if not isinstance(item, dict) or not isinstance(item.get("metadata"), dict):
        return False
    return item.get("kind") == manifest.ref.kind and item["metadata"].get("name") == manifest.ref.name
