"""yamltext: documents with their lines, strict keys, refused alias bombs, and the line of a field."""

from __future__ import annotations

import pytest
import yaml

from gitops_push import yamltext


def documents(text: str) -> list[tuple[int, int, object]]:
    return [(d.index, d.line, d.data) for d in yamltext.load_documents(text)]


def error_of(text: str) -> yamltext.YamlError:
    with pytest.raises(yamltext.YamlError) as caught:
        list(yamltext.load_documents(text))
    return caught.value


def test_each_document_has_its_index_and_first_content_line() -> None:
    text = "# a comment\n\nkind: A\nname: a\n---\n\n# another\nkind: B\n"
    assert documents(text) == [(0, 3, {"kind": "A", "name": "a"}), (1, 8, {"kind": "B"})]


def test_empty_documents_keep_their_place_and_load_as_none() -> None:
    text = "a: 1\n---\n---\nb: 2\n"
    loaded = documents(text)
    assert [(index, data) for index, _, data in loaded] == [(0, {"a": 1}), (1, None), (2, {"b": 2})]
    assert loaded[2][1] == 4


def test_empty_text_has_no_documents() -> None:
    assert documents("") == []
    assert documents("# only a comment\n") == []


def test_loading_is_safe_python_tags_are_refused() -> None:
    error = error_of("a: !!python/object/apply:os.system ['true']\n")
    assert error.line == 1
    assert "python/object/apply" in error.message


def test_a_duplicate_key_is_an_error_at_the_second_key_naming_the_first() -> None:
    error = error_of("metadata:\n  name: a\n  labels: {}\n  name: b\n")
    assert error.line == 4
    assert error.message == "duplicate key 'name' (first at line 2)"


def test_a_duplicate_key_in_a_later_document_names_its_own_line() -> None:
    error = error_of("a: 1\n---\nkind: X\nkind: Y\n")
    assert error.line == 4
    assert "duplicate key 'kind' (first at line 3)" in error.message


def test_a_duplicate_key_in_flow_style_is_an_error() -> None:
    error = error_of("spec: {replicas: 1, replicas: 2}\n")
    assert error.line == 1
    assert "duplicate key 'replicas'" in error.message


def test_merge_keys_are_not_duplicates_and_local_keys_override() -> None:
    text = "base: &base {a: 1, b: 2}\nderived:\n  <<: *base\n  b: 3\n"
    assert documents(text)[0][2] == {"base": {"a": 1, "b": 2}, "derived": {"a": 1, "b": 3}}


def test_a_mapping_as_key_is_refused_with_a_plain_message() -> None:
    error = error_of("? [a, b]\n: 1\n")
    assert error.line == 1
    assert error.message == "a mapping key must be a plain value, not list"


def test_tab_indentation_is_an_error_with_its_line_and_a_tab_hint() -> None:
    """A tab at the start of a block line: the message must say that tabs are the problem."""
    error = error_of("metadata:\n\tname: a\n")
    assert error.line == 2
    assert "tab" in error.message


def test_a_tab_that_breaks_indentation_after_a_value_is_reported_as_a_tab() -> None:
    error = error_of("a: 1\n\tb: 2\n")
    assert error.line == 2
    assert "indented with a tab" in error.message


def test_syntax_errors_carry_the_failing_line() -> None:
    error = error_of("a: 1\nb: [1, 2\nc: 3\n")
    assert error.line == 3
    assert "flow sequence" in error.message


def test_an_alias_bomb_is_refused() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
        previous = name
    error = error_of("\n".join(lines) + "\n")
    assert error.line == 1
    assert "alias bomb" in error.message
    assert f"{yamltext.MAX_EXPANDED_NODES:,}" in error.message


def test_ordinary_aliases_are_allowed() -> None:
    text = "defaults: &d {cpu: 1m}\nrequests: *d\nlimits: *d\n"
    data = documents(text)[0][2]
    assert data == {"defaults": {"cpu": "1m"}, "requests": {"cpu": "1m"}, "limits": {"cpu": "1m"}}


def test_an_alias_bomb_in_the_second_document_names_that_document() -> None:
    bomb = ["x: &x [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    previous = "x"
    for number in range(7):
        bomb.append(f"x{number}: &x{number} [{', '.join([f'*{previous}'] * 10)}]")
        previous = f"x{number}"
    error = error_of("ok: 1\n---\n" + "\n".join(bomb) + "\n")
    assert error.line == 3
    assert "alias bomb" in error.message


MANIFESTS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: first
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          image: app:1
        - name: sidecar
          image: proxy:2
          ports:
            - containerPort: 80
"""


@pytest.mark.parametrize(
    ("document", "path", "line"),
    [
        (0, [], 1),
        (0, ["metadata", "name"], 4),
        (1, [], 6),
        (1, ["kind"], 7),
        (1, ["metadata", "name"], 9),
        (1, ["spec", "template", "spec", "containers"], 13),
        (1, ["spec", "template", "spec", "containers", 0], 14),
        (1, ["spec", "template", "spec", "containers", 1], 16),
        (1, ["spec", "template", "spec", "containers", 1, "image"], 17),
        (1, ["spec", "template", "spec", "containers", 1, "ports", 0, "containerPort"], 19),
    ],
)
def test_line_of_nested_paths_and_list_indexes(document: int, path: list[str | int], line: int) -> None:
    assert yamltext.line_of(MANIFESTS, document, path) == line


def test_line_of_a_missing_field_is_the_line_of_its_nearest_parent() -> None:
    assert yamltext.line_of(MANIFESTS, 1, ["spec", "template", "metadata", "labels"]) == 11
    assert yamltext.line_of(MANIFESTS, 1, ["spec", "template", "spec", "containers", 5, "name"]) == 13


def test_line_of_an_index_into_a_mapping_or_a_key_into_a_list_stops_at_the_parent() -> None:
    assert yamltext.line_of(MANIFESTS, 1, ["metadata", 0]) == 8
    assert yamltext.line_of(MANIFESTS, 1, ["spec", "template", "spec", "containers", "name"]) == 13


def test_line_of_a_document_that_does_not_exist_or_unparsable_text_is_none() -> None:
    assert yamltext.line_of(MANIFESTS, 2, ["kind"]) is None
    assert yamltext.line_of("a: [1\n", 0, ["a"]) is None


def test_line_of_flow_style_mappings() -> None:
    text = "metadata: {name: a,\n  labels: {app: web}}\n"
    assert yamltext.line_of(text, 0, ["metadata", "labels", "app"]) == 2


@pytest.mark.parametrize(
    ("text", "anchored"),
    [
        ("labels: &common {a: b}\n", True),
        ("- &first x\n- *first\n", True),
        ("url: http://example.test/?a=1&b=2\n", False),
        ("command: [sh, -c, 'a && b']\n", False),
    ],
)
def test_only_texts_with_an_anchor_are_measured_for_alias_bombs(text: str, anchored: bool) -> None:
    assert (yamltext.ANCHOR.search(text) is not None) is anchored


# The loader builds plain documents itself (yamltext._PlainBuilder) and leaves the rest to PyYAML's
# constructor: either way the values must be PyYAML's own.
SAME_AS_PYYAML = [
    "a: 1\nb: 0x1f\nc: 0o17\nd: 017\ne: 1_000\nf: 1:30\ng: -2\nh: +3\n",
    "a: 1.5\nb: .inf\nc: -.Inf\nd: 1e3\ne: 6.8523015e+5\n",
    "a: yes\nb: No\nc: on\nd: OFF\ne: true\nf: 'true'\ng: y\n",
    "a: ~\nb: null\nc:\nd: ''\ne: 'null'\n",
    "a: 2026-01-02\nb: 2026-01-02T03:04:05Z\nc: '2026-01-02'\n",
    'a: "quoted: text"\nb: |\n  block\n  text\nc: >\n  folded\n  text\nd: plain text\n',
    "ports: [{port: 80, name: http}, {port: 443}]\nlist:\n- 1\n- [2, 3]\n- {}\n",
    "base: &b {x: 1, y: [1, 2]}\nderived:\n  <<: *b\n  y: 3\n",
    "a: !!binary aGVsbG8=\nb: !!str 12\nc: !!int '7'\nd: !!float '2'\n",
    "shared: &s [1, 2]\nagain: *s\nmap: {k: *s}\n",
    "? complex\n: value\n80: port\n1.5: float key\ntrue: bool key\n",
]


@pytest.mark.parametrize("text", SAME_AS_PYYAML)
def test_values_are_those_of_pyyaml(text: str) -> None:
    ours = [document.data for document in yamltext.load_documents(text)]
    assert ours == list(yaml.load_all(text, Loader=yaml.SafeLoader))


def test_an_aliased_node_is_one_shared_object_as_in_pyyaml() -> None:
    data = documents("shared: &s [1, 2]\nagain: *s\n")[0][2]
    assert isinstance(data, dict)
    assert data["shared"] is data["again"]


def test_a_bomb_whose_anchors_the_pattern_misses_is_still_bounded() -> None:
    # Even a document built as a tree (no anchor seen) counts each node it expands.
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for name, previous in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    loader = yamltext._StrictLoader("\n".join(lines) + "\n")
    try:
        node = loader.get_single_node()
        with pytest.raises(yamltext._TooLarge):
            yamltext._PlainBuilder(loader).tree(node)
    finally:
        loader.dispose()
    assert isinstance(node, yaml.MappingNode)
