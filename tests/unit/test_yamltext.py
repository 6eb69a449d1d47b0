"""yamltext: documents with their lines, strict keys, refused alias bombs, and the line of a field."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitops_push import yamltext
from tests.unit import yamlcorpus


def documents(text: str) -> list[tuple[int, int, object]]:
    return [(d.index, d.line, d.data) for d in yamltext.load_documents(text)]


def error_of(text: str) -> yamltext.YamlError:
    with pytest.raises(yamltext.YamlError) as caught:
        list(yamltext.load_documents(text))
    return caught.value


def test_each_document_has_its_index_and_first_content_line() -> None:
    text = "# a comment\n\nkind: A\nname: a\n---\n\n# another\nkind: B\n"
    assert documents(text) == [(0, 3, {"kind": "A", "name": "a"}), (1, 8, {"kind": "B"})]


def test_empty_and_null_documents_are_skipped_as_kubectl_skips_them() -> None:
    text = "a: 1\n---\n---\n# only a comment\n---\nnull\n---\nb: 2\n"
    assert documents(text) == [(0, 1, {"a": 1}), (1, 8, {"b": 2})]


def test_an_anchor_defined_again_in_a_later_document_leaves_the_earlier_ones_read_once() -> None:
    # (The parser is read again from the start to let the anchor be defined again; a flow map keeps
    # the first document from the line reader, so that the parser reads the whole text.)
    text = "a: {x: 1}\n---\nb: &x 1\nc: &x 2\nd: *x\n"
    assert documents(text) == [(0, 1, {"a": {"x": 1}}), (1, 3, {"b": 1, "c": 2, "d": 2})]


def test_empty_text_has_no_documents() -> None:
    assert documents("") == []
    assert documents("# only a comment\n") == []


def test_a_python_tag_runs_nothing_its_value_is_plain_data_as_kubectl_reads_it() -> None:
    # go-yaml ignores tags on lists and keeps the text of unknown scalar tags: no constructor runs.
    text = "a: !!python/object/apply:os.system ['true']\nb: !!python/name:os.system x\n"
    assert documents(text) == [(0, 1, {"a": ["true"], "b": "x"})]


def test_a_duplicate_key_is_an_error_at_the_second_key_naming_the_first() -> None:
    error = error_of("metadata:\n  name: a\n  labels: {}\n  name: b\n")
    assert error.line == 4
    assert error.message == "duplicate key 'name' (first at line 2): kubectl would silently keep the last one"


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
    error = error_of(yamlcorpus.billion_laughs())
    assert error.line == 1
    assert "excessive aliasing" in error.message


def test_a_merge_key_bomb_is_refused_fast() -> None:
    """A reader that merged each map wherever it is reached would merge 9**9 maps for these 600 bytes."""
    started = time.perf_counter()
    error = error_of(yamlcorpus.merge_bomb())
    assert time.perf_counter() - started < 1.0
    assert "excessive aliasing" in error.message


def test_a_large_document_with_some_aliases_is_read() -> None:
    text = "base: &b {cpu: 1m}\n" + "".join(f"c{i}: {{name: n{i}, resources: *b}}\n" for i in range(5000))
    data = documents(text)[0][2]
    assert isinstance(data, dict)
    assert len(data) == 5001
    assert data["c4999"] == {"name": "n4999", "resources": {"cpu": "1m"}}


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
    assert "excessive aliasing" in error.message


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
    assert bool(yamltext.anchor_ends(text)) is anchored


# Few characters, many of them meaningful to the two patterns, so that the rare cases come up.
_PATTERN_TEXT = st.text(alphabet=st.sampled_from(list("-.%#&:?,[]{} \t\r\nab\x85\u2028\u3000")), max_size=40)


@given(_PATTERN_TEXT)
def test_the_anchor_finder_finds_every_anchor_the_pattern_finds(text: str) -> None:
    # It may find more: finditer skips an anchor that starts inside the previous match (`&:&:`).
    found = yamltext.anchor_ends(text)
    assert {match.end() for match in yamltext.ANCHOR.finditer(text)} <= set(found)
    assert found == [
        match.end() for match in re.finditer(r"(?<![^\s\[{,:?-])&[^\s,\[\]{}&]", text)
    ]  # overlapping matches


@given(_PATTERN_TEXT)
def test_the_chunk_check_answers_as_its_pattern(text: str) -> None:
    assert yamltext._needs_chunks(text) is (yamltext._NEEDS_CHUNKS.search(text) is not None)


def test_a_document_of_a_file_with_anchors_shares_only_its_own_aliases() -> None:
    text = "a: &s [1]\nb: *s\n---\nc: [1]\nd: [1]\n---\ne: &t {x: 1}\nf: *t\n"
    first, second, third = (data for _, _, data in documents(text))
    assert isinstance(first, dict) and isinstance(second, dict) and isinstance(third, dict)
    assert first["a"] is first["b"] and third["e"] is third["f"]
    assert second == {"c": [1], "d": [1]}


# The values of issue 13's table: what kubectl sends for each (test_kubectl_parity.py checks all
# forms against kubectl itself).
@pytest.mark.parametrize(
    ("value", "read"),
    [
        ("2024-01-01", "2024-01-01"),
        ("2001-12-14T21:59:43.10-05:00", "2001-12-14T21:59:43.10-05:00"),
        ("!!binary aGVsbG8=", "hello"),
        ("12:30", "12:30"),
        ("=", "="),
        ("y", True),
        ("n", False),
        ("0o17", 15),
        ("1e3", 1000),
        ("1.0", 1),
        ("0.5", 0.5),
        ("~", None),
        ("<<", "<<"),
    ],
)
def test_a_scalar_reads_as_kubectl_sends_it(value: str, read: object) -> None:
    data = documents(f"k: {value}\n")[0][2]
    assert data == {"k": read}
    assert type(data["k"]) is type(read)


def test_keys_are_strings_written_as_kubectl_writes_them() -> None:
    data = documents("80: a\n1.5: b\ny: c\n1e3: d\n0.1: e\n1e7: f\n")[0][2]
    assert data == {"80": "a", "1.5": "b", "true": "c", "1000": "d", "0.1": "e", "1e+07": "f"}


def test_the_same_key_in_two_spellings_is_a_duplicate() -> None:
    error = error_of("y: a\ntrue: b\n")
    assert (error.line, error.message) == (
        2,
        "duplicate key 'true': kubectl would silently keep the last one",
    )


def test_an_aliased_node_is_one_shared_object_as_in_pyyaml() -> None:
    data = documents("shared: &s [1, 2]\nagain: *s\n")[0][2]
    assert isinstance(data, dict)
    assert data["shared"] is data["again"]


def test_a_bomb_whose_anchors_the_pattern_misses_is_still_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Built as a tree (no anchor seen), a document still stops after a bounded count of nodes and
    # is then measured with its aliases.
    monkeypatch.setattr(yamltext, "anchor_ends", lambda text: [])
    monkeypatch.setattr(yamltext, "_TREE_NODES", 1000)
    error = error_of(yamlcorpus.billion_laughs())
    assert "excessive aliasing" in error.message


def test_merge_keys_apply_in_order_as_in_go_yaml() -> None:
    text = "a: &a {p: 1, q: 1}\nb: &b {p: 2, r: 2}\nbefore: {p: 0, <<: *a}\nafter: {<<: *a, p: 0}\nboth: {<<: [*a, *b]}\n"
    data = documents(text)[0][2]
    assert isinstance(data, dict)
    assert data["before"] == {"p": 1, "q": 1}  # the merge overrides a key written before it
    assert data["after"] == {"p": 0, "q": 1}
    assert data["both"] == {"p": 1, "q": 1, "r": 2}  # of merged maps, the first wins


def test_a_merge_of_something_else_than_maps_names_the_merge_key_line() -> None:
    error = error_of("list: &l [1, 2]\nm:\n  <<: *l\n")
    assert (error.line, error.message) == (
        3,
        "a merge key (<<) takes a map or a list of maps (kubectl refuses it too)",
    )


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(child) for child in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(child) for child in value), default=0)
    return 0


# --- document_heads: the scan agrees with the parser, or leaves the text to it ------------------------

MANIFEST = "apiVersion: v1\nkind: {kind}\nmetadata:\n  labels: {{a: b}}\n  name: {name}\ndata:\n  k: v\n"
SCALARS = [
    *yamlcorpus.TIMESTAMPS,
    *yamlcorpus.INTEGERS,
    *yamlcorpus.FLOATS,
    *yamlcorpus.SPECIAL_FLOATS,
    *yamlcorpus.BOOLS,
    *yamlcorpus.NULLS,
    *yamlcorpus.SPECIALS,
    *yamlcorpus.QUOTED,
    "web",
    "web-1.example",
    '"web"',
    "'web'",
]


def parsed_heads(text: str) -> list[yamltext.Head]:
    return [
        yamltext.Head(d.index, d.line, *yamltext._kind_and_name(d.data))
        for d in yamltext.load_documents(text)
    ]


def read(text: str) -> bool:
    """Whether the parser reads the text. (A text it refuses may still have its heads scanned: a
    rendering asks only of files its renderer read, and the heads are only where objects start.)"""
    try:
        parsed_heads(text)
    except yamltext.YamlError:
        return False
    return True


READ_CASES = [case for case in yamlcorpus.corpus() if read(case.text)]
SCALAR_MANIFESTS = [
    text
    for value in SCALARS
    if "\n" not in value
    for text in (MANIFEST.format(kind="ConfigMap", name=value), MANIFEST.format(kind=value, name="web"))
    if read(text)
]


@pytest.mark.parametrize("case", READ_CASES, ids=lambda case: case.name)
def test_document_heads_agree_with_the_parser_on_the_corpus(case: yamlcorpus.Case) -> None:
    assert yamltext.document_heads(case.text) == parsed_heads(case.text)


@pytest.mark.parametrize("text", SCALAR_MANIFESTS)
def test_document_heads_read_a_name_and_kind_as_the_parser_does(text: str) -> None:
    assert yamltext.document_heads(text) == parsed_heads(text)


def test_the_scan_reads_most_manifests_of_the_corpus_itself() -> None:
    scanned = [text for text in SCALAR_MANIFESTS if yamltext._scanned_heads(text) is not None]
    assert len(READ_CASES) > 300 and len(scanned) > 20


def test_document_heads_scan_block_manifests_without_the_parser() -> None:
    text = (
        "# leading comment\n---\n"
        + MANIFEST.format(kind="ConfigMap", name="a")
        + "---\n# only a comment\n---   # a separator with a comment\n"
        + "apiVersion: v1\nkind: 'Service'\nmetadata:\n  # the name\n  name: \"b\"  # quoted\nspec: {}\n"
    )
    assert yamltext._scanned_heads(text) == [
        yamltext.Head(0, 3, "ConfigMap", "a"),
        yamltext.Head(1, 13, "Service", "b"),
    ]
    assert yamltext.document_heads(text) == parsed_heads(text)


@pytest.mark.parametrize(
    "text",
    [
        "a\n",
        "a: 1\n",
        "a: {b: [1, [2, {c: d}]]}\ne: []\n",
        "- - - - x\n- y\n",
        "a: [1, 2]\nb:\n  c:\n    d: {}\n",
        "base: &b {x: {y: 1}}\nmerged: {<<: *b, z: 2}\n",
        "a: &x [[1]]\nb: {c: *x}\n",
        "- &s {k: &t [v]}\n- [*s, [*t]]\n",
    ],
)
def test_the_depth_a_document_reports_is_never_less_than_its_data_nests(text: str) -> None:
    for document in yamltext.load_documents(text):
        assert document.depth is None or document.depth >= _depth(document.data)
        if "<<" not in text:  # a merged map is counted as a level of its own
            assert document.depth == _depth(document.data)


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flow}\n",  # flow metadata
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: on\n",  # a boolean to YAML 1.1
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 0x1F\n",  # a number
        "- a\n- b\n",  # not a mapping
        "&anchor\napiVersion: v1\nkind: ConfigMap\n",  # an anchor on the document
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "a\\u0062"\n',  # an escape
    ],
)
def test_document_heads_leave_what_the_scan_cannot_read_to_the_parser(text: str) -> None:
    assert yamltext._scanned_heads(text) is None
    assert yamltext.document_heads(text) == parsed_heads(text)


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: v1\nkind: A\nkind: B\n",  # a key twice
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: tab\n",  # a tab
    ],
)
def test_document_heads_of_text_the_parser_refuses_raise_its_error(text: str) -> None:
    assert yamltext._scanned_heads(text) is None
    with pytest.raises(yamltext.YamlError):
        yamltext.document_heads(text)


def test_block_style_manifests_are_read_without_importing_pyyaml() -> None:
    """Importing PyYAML takes about 11 ms of a run's start: a run whose files `yamlblocks` reads
    whole never pays it; the first document left to the parser imports it."""
    script = """
import sys
from gitops_push import yamltext
list(yamltext.load_documents("apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: a\\n"))
print("yaml" in sys.modules)
print([d.data for d in yamltext.load_documents("a: {b: [1, 2]}\\n")])
print("yaml" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert result.stdout.split("\n")[:3] == ["False", "[{'a': {'b': [1, 2]}}]", "True"]
