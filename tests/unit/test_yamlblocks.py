"""yamlblocks: the line reader gives the parser's documents or leaves them to it, and reads the
manifests people write.

The parser path (libyaml's composer and yamltext's builder) is held to kubectl by
test_kubectl_parity.py. Here every text is read twice, with the line reader and without it, and
the two readings must be the same: the same documents with the same lines, or the same error.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops_push import yamlblocks, yamltext
from tests import fuzzing
from tests.conftest import FIXTURES
from tests.unit import yamlcorpus

Reading = tuple[str, Any]
T = TypeVar("T")


@contextlib.contextmanager
def line_reader_off() -> Iterator[None]:
    usable = yamlblocks.usable
    yamlblocks.usable = lambda text: False
    try:
        yield
    finally:
        yamlblocks.usable = usable


def reading(text: str) -> Reading:
    try:
        documents = list(yamltext.load_documents(text))
    except yamltext.YamlError as exc:
        return "refused", (exc.message, exc.line)
    for document in documents:
        assert document.depth is None or document.depth >= depth_of(document.data), text
    return "read", [(d.index, d.line, typed(d.data)) for d in documents]


def by_parser(text: str) -> Reading:
    with line_reader_off():
        return reading(text)


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


def typed(value: Any) -> Any:
    """A value with its JSON types spelled out: True is not 1, and 1 is not 1.0."""
    if isinstance(value, dict):
        return ("map", [(key, typed(item)) for key, item in value.items()])  # (key order kept)
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    return (type(value).__name__, value)


def read_by_lines(text: str) -> list[bool]:
    """For each document of a text without errors, whether the line reader read it."""
    text = yamltext._kubectl_lines(text)
    assert yamlblocks.usable(text)
    lines = text.split("\n")[:-1]
    starts = [0, *(n + 1 for n, line in enumerate(lines) if line.startswith("---"))]
    ends = [n for n, line in enumerate(lines) if line.startswith("---")] + [len(lines)]
    results = [yamlblocks.read(lines, s, e, yamltext._SCALARS) for s, e in zip(starts, ends, strict=True)]
    return [result is not None for result in results if result is None or result[0] is not yamlblocks.EMPTY]


# --- what it reads, and what it leaves to the parser ------------------------------------------------

READ = {
    "indentless list": ("ports:\n- name: http\n  port: 80\n- name: grpc\n  port: 9000\nkind: Service\n"),
    "indented list": "spec:\n  args:\n    - --config\n    - /etc/x.yaml\n  replicas: 2\n",
    "list of lists' maps": "a:\n- b:\n  - c: 1\n    d: 2\n  e: 3\n",
    "comments": "# head\na: 1 # one\n  # indented comment\nb: x#y # two\n",
    "quoted": "a: '0'\nb: 'it''s'\nc: \"true\"\nd: ''\ne: \"\"\n",
    "folded single quotes": "data:\n  settings: 'name: a\n\n    level: 1\n\n    '\n  b: 'x\n    y'\n",
    "literal": "data:\n  s: |\n    one\n\n      two\n    three\n\n  t: |-\n    x\n  u: 1\n",
    "scalars resolved": "a: 80\nb: yes\nc: 1e3\nd: 0x1F\ne: ~\nf: 12:30\ng: 2024-01-01\nh: -1\ni: .5\n",
    "empty collections": "a: []\nb: {}\nc:\n- []\n- {}\n",
    "nulls": "a:\nb: # nothing\nc:\n  d:\n",
    "anchor and alias": "metadata:\n  labels: &l\n    app: a\nspec:\n  selector:\n    matchLabels: *l\n",
    "several documents": "a: 1\n---\n# only a comment\n---\nb: 2\n--- # with a comment\nc: 3\n",
    "keys": "a:b: 1\nkey with space: 2\nname: 3\nnull-ish: 4\nhttp://x: 5\n",
    "unicode": "a: é\nb: '日本'\n",
    "crlf (as kubectl, read as lf)": "a: 1\r\nb:\r\n- x\r\n",
}


@pytest.mark.parametrize("name", list(READ))
def test_block_yaml_is_read_by_lines_as_the_parser_reads_it(name: str) -> None:
    text = READ[name]
    assert all(read_by_lines(text))
    assert reading(text) == by_parser(text)


LEFT = {
    "flow map": "a: {b: 1}\n",
    "flow list": "a: [1, 2]\n",
    "tag": "a: !!str 1\n",
    "merge key": "base: &b\n  x: 1\nc:\n  <<: *b\n",
    "non-string key": "1: a\n",
    "boolean key": "on: a\n",
    "quoted key": "'a': 1\n",
    "anchored scalar": "a: &x 1\nb: *x\n",
    "alias of an unknown anchor": "a: *nope\n",
    "multi-line plain": "a: one\n  two\n",
    "folded block": "a: >\n  one\n  two\n",
    "keep chomping": "a: |+\n  x\n\n",
    "indentation indicator": "a: |2\n   x\n",
    "escapes": 'a: "x\\ty"\n',
    "multi-line double quotes": 'a: "x\n  y"\n',
    "a key twice": "a: 1\na: 2\n",
    "a list as the document": "- a\n- b\n",
    "a scalar document": "hello\n",
    "bad indentation": "a:\n  b: 1\n c: 2\n",
    "a map on a key's line": "a: b: c\n",
    "text after a closing quote": "a: 'x' y\n",
    "unclosed quote": "a: 'x\n",
    "a list inside a map": "a: 1\n- b\n",
    "an item alone": "a:\n-\n  b: 1\n",
    "long key": "k" * 1100 + ": 1\n",
    "an item with nothing after its dash": "a:\n- \n- b\n",
    "an empty key": "a: 1\n: 2\n",
}


@pytest.mark.parametrize("name", list(LEFT))
def test_other_yaml_is_left_to_the_parser(name: str) -> None:
    text = LEFT[name]
    lines = yamltext._kubectl_lines(text).split("\n")[:-1]
    assert yamlblocks.read(lines, 0, len(lines), yamltext._SCALARS) is None
    assert reading(text) == by_parser(text)


@pytest.mark.parametrize(
    "text", ["a:\tb\n", "a: 1\rb: 2\n", "\ufeffa: 1\n", "a: \x85\n", "a: \u2028\n", "a: \x1b\n"]
)
def test_tabs_odd_line_breaks_and_byte_order_marks_leave_the_whole_text_to_the_parser(text: str) -> None:
    assert not yamlblocks.usable(yamltext._kubectl_lines(text))
    assert reading(text) == by_parser(text)


def test_a_document_the_reader_leaves_is_parsed_where_it_stands() -> None:
    text = "a: 1\n---\n# two\nb: [1, 2]\n---\nc: 3\n---\nd: {e: 1\n"
    assert reading(text) == by_parser(text)
    kind, (message, line) = reading(text)
    assert kind == "refused" and line >= 8, message  # (in the last document, as the parser says)
    assert reading(text.rsplit("---", 1)[0]) == (
        "read",
        [(0, 1, typed({"a": 1})), (1, 4, typed({"b": [1, 2]})), (2, 6, typed({"c": 3}))],
    )


def test_an_alias_shares_its_anchors_value_and_counts_its_depth() -> None:
    text = "a: &x\n  b:\n    c: 1\nd:\n  e: *x\n"
    (document,) = yamltext.load_documents(text)
    assert document.data["d"]["e"] is document.data["a"]
    assert document.depth == 4


def test_many_aliases_are_left_to_the_parser_which_bounds_them() -> None:
    text = "a: &x\n  b: 1\n" + "".join(f"k{n}: *x\n" for n in range(yamlblocks._ALIASES + 1))
    lines = text.split("\n")[:-1]
    assert yamlblocks.read(lines, 0, len(lines), yamltext._SCALARS) is None
    assert reading(text) == by_parser(text)


# --- real manifests: read by lines, the same ------------------------------------------------------

PLAIN_MANIFESTS = [
    *sorted((FIXTURES / "microservices-demo").glob("*.yaml")),
    FIXTURES / "ingress-nginx" / "deploy.yaml",
    *sorted((FIXTURES / "podinfo" / "kustomize").glob("*.yaml")),
]


@pytest.mark.parametrize("path", PLAIN_MANIFESTS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_real_manifests_are_read_by_lines_and_the_same(path: Path) -> None:
    text = path.read_text("utf-8")
    assert all(read_by_lines(text))
    assert reading(text) == by_parser(text)


# --- the corpus, mutated texts and generated block YAML: the same as the parser -------------------------


@pytest.mark.parametrize("case", yamlcorpus.corpus(), ids=lambda case: case.name)
def test_the_kubectl_parity_corpus_reads_the_same(case: yamlcorpus.Case) -> None:
    assert reading(case.text) == by_parser(case.text)


def test_mutated_manifests_read_the_same() -> None:
    rng = random.Random(29)
    seeds = [path.read_bytes() for path in PLAIN_MANIFESTS[:6]]
    seeds += [case.text.encode() for case in yamlcorpus.corpus() if case.name.startswith(("block", "alias"))]
    compared = 0
    while compared < 3000:
        data = fuzzing.mutate(rng.choice(seeds), rng)
        with contextlib.suppress(UnicodeDecodeError):
            text = data.decode("utf-8")
            assert reading(text) == by_parser(text), text
            compared += 1


# Words and keys a manifest holds, and odd ones: YAML reads some as other types, or refuses them.
WORDS = [
    "a",
    "b",
    "name",
    "app",
    "x y",
    "80",
    "1.5",
    "yes",
    "no",
    "y",
    "~",
    "null",
    "1e3",
    "0x1F",
    "0o17",
    "12:30",
    "2024-01-01",
    "-1",
    "-x",
    ".5",
    "a#b",
    "a:b",
    "http://x.test",
    "true",
    "é",
    "9223372036854775807",
]
ODD_WORDS = [
    "<<",
    "a #b",
    "a: b",
    "9223372036854775808",
    ".inf",
    "-",
    "?x",
    "%x",
    "@x",
    "x:",
    "'",
    "[a, b]",
    "{a: 1}",
    "*a0",
    "*a1",
    "&s x",
    "!!str 1",
    "|2\n   x",
    "[ ]",
    "",
    " ",
]
KEYS = ["a", "b", "name", "app", "key with space", "a:b", "x#y", "~k", "http://x"]
ODD_KEYS = ["1", "on", "y", "<<", "-k", "k ", "'q'", "a #b", "? k"]  # fmt: skip


class Writer:
    """Block YAML as people and tools write it; with probability `mess`, each choice is an odd one."""

    def __init__(self, rng: random.Random, mess: float) -> None:
        self.rng = rng
        self.mess = mess
        self.anchors = 0

    def odd(self) -> bool:
        return self.rng.random() < self.mess

    def pick(self, usual: list[T], odd: list[T]) -> T:
        return self.rng.choice(odd if self.odd() else usual)

    def stream(self) -> str:
        documents = [self.block(0, 0) for _ in range(self.rng.randint(1, 3))]
        return "\n---\n".join(documents) + self.pick(["\n"], ["", "\n\n"])

    def block(self, indent: int, depth: int) -> str:
        rng = self.rng
        is_list = depth > 0 and rng.random() < 0.35  # (a document is a map, as a manifest is)
        keys = rng.sample(KEYS, rng.randint(1, 4))
        lines = []
        for key in keys:
            if rng.random() < 0.1:
                lines.append(" " * rng.randint(0, indent + 2) + rng.choice(["# note", ""]))
            lead = "- " if is_list else ""
            key = (self.pick([key], ODD_KEYS) + ":") if not is_list or rng.random() < 0.5 else ""
            if depth < 3 and key and rng.random() < 0.5:
                anchor = ""
                if rng.random() < 0.2:
                    anchor = f" &a{self.anchors}"
                    self.anchors += 1
                step = self.pick([2, 4], [0, 1, 3])
                child = self.block(indent + len(lead) + step, depth + 1)
                lines.append(f"{' ' * indent}{lead}{key}{anchor}\n{child}")
            else:
                value = self.scalar(indent + len(lead))
                lines.append(f"{' ' * indent}{lead}{key}{' ' if key else ''}{value}")
        return "\n".join(lines)

    def scalar(self, indent: int) -> str:
        """A scalar written after `key: ` or `- ` at `indent`: plain, quoted, folded or a block."""
        rng = self.rng
        pad = " " * (indent + self.pick([2, 4], [0, 1]))
        kind = rng.choice(["plain", "plain", "plain", "single", "double", "folded", "literal", "empty"])
        word = self.pick(WORDS, ODD_WORDS)
        if kind == "single":
            return "'" + word.replace("'", "''") + "'"
        if kind == "double":
            return f'"{word}"'
        if kind == "folded":
            parts = rng.choices(
                ["one", "two words", "", "it''s", "# not a comment", "x  "], k=rng.randrange(5)
            )
            later = [f"{pad}{part}" if part else self.pick([""], [pad]) for part in [*parts[1:], "end'"]]
            return "\n".join([f"'{parts[0]}" if parts else "'start", *later])
        if kind == "literal":
            header = self.pick(["|", "|-", "| # c"], ["|+", ">", "|2", "|-  x"])
            body = rng.choices(["line", "", "  deeper", "# kept", "x: y", "'q'"], k=rng.randrange(1, 5))
            first = next((n for n, line in enumerate(body) if line), None)
            if first is not None and body[first].startswith(" ") and not self.odd():
                body[first] = (
                    "line"  # (its first line sets a block's indentation: a line less indented ends it)
                )
            body = [line if line else self.pick([""], [" ", pad + " "]) for line in body]
            return header + "".join(f"\n{pad}{line}" if line.strip() else f"\n{line}" for line in body)
        if kind == "empty":
            return rng.choice(["[]", "{}"])
        return word + self.pick(["", " # c", "#c"], ["  #c", " ", "\t"])


@settings(max_examples=2000, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.sampled_from([0.0, 0.02, 0.1, 0.3]))
def test_generated_block_yaml_reads_the_same(rng: random.Random, mess: float) -> None:
    text = Writer(rng, mess).stream()
    assert reading(text) == by_parser(text), text


def test_generated_block_yaml_without_odd_choices_is_read_by_lines() -> None:
    """What the generator writes without odd choices is what the line reader reads: the test above
    reads by lines often, not only by the parser."""
    rng = random.Random(5)
    for _ in range(300):
        text = Writer(rng, 0.0).stream()
        assert all(read_by_lines(text)), text
