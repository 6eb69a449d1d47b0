"""The corpus that holds gitops-push's YAML reader to kubectl's (tests/unit/test_kubectl_parity.py).

Every case is a named file text. Scalars are enumerated by form (timestamps, base-60 numbers, integer
and float spellings, infinities, YAML 1.1 booleans in every case, nulls, tags) and each form is put in
several places (a block value, a flow item, a key, a quoted value); whole-stream cases cover markers,
line ends, byte-order marks, merge keys and aliases, block scalars, flow collections, JSON and long
lines. A case that kubectl reads but gitops-push refuses on purpose names the difference (a key of
DIFFERENCES, each listed in docs/kubectl-parity.md) and the words its refusal must hold.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    difference: str | None = None  # a key of DIFFERENCES: kubectl reads it, gitops-push refuses it


# Deliberate differences: kubectl accepts, gitops-push refuses, and its message says why.
DIFFERENCES = {
    "duplicate-key": "kubectl would silently keep",
    "ambiguous-key": "kubectl would keep either",
    "integer-range": "does not fit in 64 bits",
    "binary-not-utf8": "is not UTF-8 text",
    "after-document-end": "content after the end of the document",
    "lone-surrogate": "surrogate",
    "duplicate-key-json": "duplicate key",
    "flow-colon": "kubectl reads a `:` right before",
    "quote-escape": "kubectl allows \\'",
    "bom-line-start": "a byte-order mark (U+FEFF) starts this line",
    "glued-tag": "kubectl's YAML parser takes `,` `[` `]` into a tag",
}

TIMESTAMPS = [
    "2024-01-01",
    "2001-12-14T21:59:43.10-05:00",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    "2001-12-15 2:59:43.10",
    "2001-12-14T21:59:43Z",
    "2001-12-14T21:59:43",
    "2001-1-2",
    "2001-13-01",
    "2001-02-29",
    "2000-02-29",
    "20010-01-01",
    "2001-12-14T25:00:00Z",
    "2001-12-14 21:59:43,5",
]
BASE_60 = ["12:30", "1:30:00", "190:20:30", "-1:30", "12:30.5", "0:0", "1:60"]
INTEGERS = [
    "0",
    "1",
    "-1",
    "+1",
    "00",
    "007",
    "017",
    "08",
    "09",
    "0o17",
    "0O17",
    "0o18",
    "0x1F",
    "0X1f",
    "0xg",
    "0x",
    "0b101",
    "0B11",
    "-0b101",
    "0b2",
    "-0x1F",
    "+0o7",
    "1_000",
    "1__000",
    "_1",
    "1_",
    "0x_1F",
    "0b_1",
    "9223372036854775807",
    "-9223372036854775808",
    "123456789012",
]
INTEGERS_OUT_OF_RANGE = [
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999",
    "0777777777777777777777777",
    "+9223372036854775808",
]
HEX_OUT_OF_RANGE = ["0xFFFFFFFFFFFFFFFF", "0x1FFFFFFFFFFFFFFFF"]
FLOATS = [
    "1.5",
    "-1.5",
    "+1.5",
    "1.",
    ".5",
    "-.5",
    "+.5",
    "1.0",
    "1e3",
    "1E3",
    "1e+3",
    "1e-3",
    "1.5e3",
    "6.8523015e+5",
    "685.230_15e+03",
    "1e21",
    "1e20",
    "1e400",
    "1e-400",
    "2e-324",
    ".5e3",
    ".5_0",
    "0.1",
    "3.14159265358979323846",
    "1_000.5",
    "12e",
    "e3",
    "1.2.3",
    "0.0",
    "-0.0",
    "1e-7",
    "123456789.0",
    "4.9e-324",
    "1.7976931348623157e308",
    "1.7976931348623159e308",
    "-.5e-3",
]
SPECIAL_FLOATS = [
    ".inf",
    ".Inf",
    ".INF",
    "+.inf",
    "-.inf",
    "-.Inf",
    ".nan",
    ".NaN",
    ".NAN",
    ".iNf",
    "inf",
    "-inf",
    "nan",
    "NaN",
    "Infinity",
    "-.nan",
]
BOOLS = [
    "y",
    "Y",
    "yes",
    "Yes",
    "YES",
    "yEs",
    "true",
    "True",
    "TRUE",
    "tRue",
    "on",
    "On",
    "ON",
    "oN",
    "n",
    "N",
    "no",
    "No",
    "NO",
    "nO",
    "false",
    "False",
    "FALSE",
    "off",
    "Off",
    "OFF",
    "yes!",
]
NULLS = ["~", "null", "Null", "NULL", "nULL", ""]
SPECIALS = ["=", "<<", "-x", "a:b", "a b", "x # comment", "?x", "a:", "--x", "...x", "1:", "0:"]
TAGGED = [
    "!!str 12",
    "!!str true",
    "!!str ~",
    "!!binary aGVsbG8=",
    "!!binary invalid==",
    "!!binary //79",
    "!!binary ''",
    "!!binary aGV8=",
    '!!binary "aGVs\\nbG8="',
    "!!int 12",
    "!!int '12'",
    "!!int 0x1F",
    "!!int 1.5",
    "!!int abc",
    "!!int 1_000",
    "!!float 1",
    "!!float 1.5",
    "!!float abc",
    "!!float .inf",
    "!!float '2'",
    "!!bool yes",
    "!!bool 1",
    "!!bool 'true'",
    "!!null ~",
    "!!null ''",
    "!!null a",
    "!!timestamp 2001-12-14",
    "!!timestamp 2001-12-14T21:59:43.10-05:00",
    "!!timestamp 12",
    "!!timestamp abc",
    "!!timestamp 2001-02-30",
    "!foo bar",
    "!foo 12",
    "!!foo x",
    "!<tag:example.com,2000:x> y",
    "! 12",
    "! true",
    "!!python/object:os.system x",
    "!!set x",
    "!!merge x",
    "!!map x",
    "!!seq x",
    "!!float 18446744073709551615",
    "!!int 18446744073709551615",
]
QUOTED = [
    "'12'",
    '"true"',
    '"~"',
    "''",
    '""',
    '"a\\tb"',
    '"\\x41"',
    '"\\u00e9"',
    '"\\U0001F600"',
    '"\\N"',
    '"\\_"',
    '"\\L"',
    '"\\P"',
    '"\\e"',
    '"\\0"',
    '"\\/"',
    '"\\q"',
    "'it''s'",
    '"\\ud800"',
    '"line\\\n  continued"',
    "'multi\n  line'",
]

# Forms whose value kubectl reads but gitops-push refuses on purpose, wherever they stand.
VALUE_DIFFERENCES = {
    **dict.fromkeys(INTEGERS_OUT_OF_RANGE, "integer-range"),
    "!!int 18446744073709551615": "integer-range",
    "!!binary //79": "binary-not-utf8",
    "0xFFFFFFFFFFFFFFFF": "integer-range",
}
# A form as a key: JSON keys are strings, so some differences of values do not apply.
KEY_DIFFERENCES = {
    **dict.fromkeys(
        set(INTEGERS_OUT_OF_RANGE) - {"9223372036854775808", "18446744073709551615"}, "integer-range"
    ),
    "!!binary //79": "binary-not-utf8",
}


def scalar_cases() -> list[Case]:
    """Every scalar form as a block value, a flow item, a block list item and a key."""
    forms = [
        *(("timestamp", f) for f in TIMESTAMPS),
        *(("base60", f) for f in BASE_60),
        *(("int", f) for f in INTEGERS),
        *(("int-range", f) for f in INTEGERS_OUT_OF_RANGE + HEX_OUT_OF_RANGE),
        *(("float", f) for f in FLOATS),
        *(("inf-nan", f) for f in SPECIAL_FLOATS),
        *(("bool", f) for f in BOOLS),
        *(("null", f) for f in NULLS),
        *(("special", f) for f in SPECIALS),
        *(("tag", f) for f in TAGGED),
        *(("quoted", f) for f in QUOTED),
    ]
    cases = []
    for category, form in forms:
        value_difference = VALUE_DIFFERENCES.get(form)
        cases.append(Case(f"{category} value {form!r}", f"data:\n  k: {form}\n", value_difference))
        if "\n" not in form:
            flow_difference = "flow-colon" if form.endswith(":") else value_difference
            cases.append(Case(f"{category} flow {form!r}", f"k: [{form}, x]\n", flow_difference))
            cases.append(Case(f"{category} list {form!r}", f"- {form}\n- x\n", value_difference))
            key_difference = KEY_DIFFERENCES.get(form)
            if " #" in form:
                key_difference = "after-document-end"  # `x # c: v` is the value x, then more text
            cases.append(Case(f"{category} key {form!r}", f"{form}: v\nother: w\n", key_difference))
    return cases


def stream_cases() -> list[Case]:
    """Whole files: markers, line ends, byte-order marks, comments, empty and JSON documents."""
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n"
    a, b = cm.format(name="a"), cm.format(name="b")
    raw = [
        ("empty file", ""),
        ("only a newline", "\n"),
        ("only spaces", "   \n  \n"),
        ("only comments", "# one\n# two\n"),
        ("one document", a),
        ("two documents", f"{a}---\n{b}"),
        ("leading separator", f"---\n{a}"),
        ("trailing separator", f"{a}---\n"),
        ("many separators", f"---\n---\n{a}---\n---\n---\n{b}---\n"),
        ("separator with comment", f"{a}--- # next\n{b}"),
        ("separator with tab and comment", f"{a}---\t# next\n{b}"),
        ("separator with trailing spaces", f"{a}---   \n{b}"),
        ("separator glued to a comment", f"{a}---# next\n{b}"),
        ("separator with content", f"{a}--- {b}"),
        ("separator with a block scalar", "--- |\n  text\n"),
        ("separator with a flow map", "--- {a: 1}\n"),
        ("four dashes", f"{a}----\n{b}"),
        ("separator not at column 0", f"{a} ---\n{b}"),
        ("comment-only document between", f"{a}---\n# nothing here\n---\n{b}"),
        ("null document", f"{a}---\nnull\n---\n{b}"),
        ("tilde document", "~\n"),
        ("empty list document", "[]\n"),
        ("empty map document", "{}\n"),
        ("scalar document", "just text\n"),
        ("quoted empty document", "''\n"),
        ("document end marker", f"{a}...\n"),
        ("document end then separator", f"{a}...\n---\n{b}"),
        ("document end then comment", f"{a}...\n# done\n"),
        ("document end alone", "...\n"),
        ("directive", f"%YAML 1.1\n---\n{a}"),
        ("tag directive", "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n"),
        ("no final newline", "a: 1\nb: 2"),
        ("keep chomping at end of file", "a: |+\n  x"),
        ("crlf", a.replace("\n", "\r\n")),
        ("crlf two documents", f"{a}---\n{b}".replace("\n", "\r\n")),
        ("crlf in a block scalar", "a: |\r\n  one\r\n  two\r\n"),
        ("crlf in a folded scalar", "a: >\r\n  one\r\n  two\r\n\r\n  three\r\n"),
        ("crlf in a quoted scalar", 'a: "one\r\n  two"\r\n'),
        ("lone cr", "a: 1\rb: 2\n"),
        ("mixed line ends", "a: 1\r\nb: 2\nc: 3\r\n"),
        ("bom", "\ufeff" + a),
        ("bom then separator", "\ufeff---\n" + a),
        ("bom in the second document", a + "---\n\ufeff" + b),
        ("bom inside a line", "a: x\ufeffy\n"),
        ("nel line break", "a: x\x85b: y\n"),
        ("line separator character", "a: x\u2028y\n"),
        ("non-ascii text", "name: café\nemoji: 😀\nkey-é: v\n"),
        ("bell character", "a: x\x07y\n"),
        ("delete character", "a: x\x7fy\n"),
        ("tab indentation", "a:\n\tb: 1\n"),
        ("tab after colon", "a:\t1\n"),
        ("tab in a value", "a: x\ty\n"),
        ("indentation error", "a:\n  b: 1\n c: 2\n"),
        ("unclosed flow", "a: [1, 2\n"),
        ("unclosed quote", 'a: "x\n'),
        ("undefined alias", "a: *nothing\n"),
        ("plain starting with at", "a: @x\n"),
        ("plain starting with backquote", "a: `x\n"),
        ("document is a list of maps", "- a: 1\n- b: 2\n"),
        ("deep nesting", "a: " + "[" * 50 + "]" * 50 + "\n"),
        ("deeper nesting", "a: " + "[" * 200 + "]" * 200 + "\n"),
    ]
    raw += [
        ("glued separator alone", "---#\n"),
        ("glued separator first", "---#\na: 1\n"),
        ("glued separator between", "a: 1\n---#\nb: 2\n"),
        ("separator then glued separator", "---\n---#\n"),
        ("bom at the start of the second chunk", "a: 1\n---\n\ufeffb: 2\n"),
        ("bom in a flow item", "a: [1, \ufeff2]\n"),
        ("bom in a quoted value", 'a: "x\ufeffy"\n'),
    ]
    cases = [Case(f"stream {name}", text) for name, text in raw]
    for name, text in [
        ("bom at a line start", "a: 1\n\ufeffb: 2\n"),
        ("bom after a comment", "# c\n\ufeffa: 1\n"),
        ("bom before a separator", "- a\n\ufeff---\n- x\n"),
    ]:
        # kubectl reads the first two (the mark in a key), refuses the third; gitops-push refuses all.
        difference = None if name == "bom before a separator" else "bom-line-start"
        cases.append(Case(f"stream {name}", text, difference))
    cases.append(Case("stream content after document end", f"{a}...\n{b}", difference="after-document-end"))
    return cases


def block_scalar_cases() -> list[Case]:
    cases = []
    bodies = {
        "plain": "  one\n  two\n",
        "trailing blank lines": "  one\n  two\n\n\n",
        "leading blank lines": "\n\n  one\n",
        "more indented": "  one\n    two\n  three\n",
        "blank inside": "  one\n\n  two\n",
        "only blank": "\n\n",
    }
    for indicator in ["|", "|-", "|+", ">", ">-", ">+", "|2", "|-2", ">2-", "|+2"]:
        for body_name, body in bodies.items():
            cases.append(Case(f"block {indicator} {body_name}", f"a: {indicator}\n{body}b: end\n"))
        cases.append(Case(f"block {indicator} at end of file", f"a: {indicator}\n  one\n\n"))
    cases.append(Case("block bad indentation indicator", "a: |0\n  x\n"))
    cases.append(Case("block text less indented than indicator", "a: |4\n  x\n"))
    return cases


def flow_cases() -> list[Case]:
    texts = {
        "nested": "a: {b: [1, {c: d}], e: []}\n",
        "trailing comma list": "a: [x, y, ]\n",
        "trailing comma map": "a: {x: 1, }\n",
        "keys without values": "a: {x, y}\n",
        "single pair in a list": "a: [x: 1, y]\n",
        "explicit key in flow": "a: {? x : 1}\n",
        "multi-line flow": "a: [\n  1,\n  2\n]\n",
        "empty entry": "a: [,]\n",
        "colon without space": "a: {x:1}\n",
        "quoted keys": "a: {\"x\": 1, 'y': 2}\n",
        "json in yaml": 'a: {"b": [1, 2.5, true, null, "s"]}\n',
        "url values": "a: [http://x.test/a?b=c, https://y.test:8443/]\n",
        "flow seq of maps": "a: [{x: 1}, {y: 2}]\n",
        "adjacent value json style": 'a: {"x":1}\n',
        "plain with colon in flow": "a: [a:b]\n",
        "url with query in flow": "a: [http://x.test/a?b=c]\n",
        "url with port in flow": "a: [https://y.test:8443/, x]\n",
        "question mark in flow map": "a: {k: what?}\n",
        "question mark in block": "a: what?\n",
        "quoted url in flow": "a: ['http://x.test/a?b=c']\n",
        "explicit key in flow list": "a: [? x : y]\n",
        "escaped single quote": 'a: "it\\\'s"\n',
        "escaped space": 'a: "\\ x"\n',
        "escaped tab character": 'a: "\\\tx"\n',
        "escaped slash in single quotes": "a: '\\/'\n",
        "escaped slash in plain": "a: x\\/y\n",
        "escaped backslash then slash": 'a: "\\\\/"\n',
        "colon then flow end": "a: {x:}\n",
    }
    texts |= {
        "tag glued to a comma": "k: [!!str, x]\n",
        "unknown tag glued to a comma": "k: [!!time4, x]\n",
        "tag glued to a bracket": "k: [!!str]\n",
        "tag then space and comma": "k: [!!str , x]\n",
        "bracket inside a tag": "k: ![int '12'\n",
    }
    differences = {
        "escaped single quote": "quote-escape",
        "colon then flow end": "flow-colon",
        "tag glued to a comma": "glued-tag",
        "unknown tag glued to a comma": "glued-tag",
        "bracket inside a tag": "glued-tag",
    }
    return [Case(f"flow {name}", text, differences.get(name)) for name, text in texts.items()]


def key_cases() -> list[Case]:
    texts = {
        "explicit key": "? a\n: 1\n",
        "explicit key without value": "? a\n",
        "list as key": "? [a, b]\n: 1\n",
        "map as key": "? {a: 1}\n: 2\n",
        "empty key": ": v\n",
        "null key": "~: v\n",
        "timestamp key": "2001-01-01: v\n",
        "float key tenth": "0.1: v\n",
        "float key pi": "3.14159265358979: v\n",
        "float key 1e7": "1e7: v\n",
        "float key 1e3": "1e3: v\n",
        "float key negative zero": "-0.0: v\n",
        "float key big": "123456789.0: v\n",
        "float key tiny": "0.00001: v\n",
        "bool and int keys": "true: a\n1: b\n",
        "long key": ("k" * 1100) + ": v\n",
        "quoted long key": '"' + ("k" * 1100) + '": v\n',
        "alias key": "a: &k key\n*k : v\n",
    }
    cases = [Case(f"key {name}", text) for name, text in texts.items()]
    duplicates = {
        "same key": ("a: 1\na: 2\n", "duplicate-key"),
        "same key nested": ("m:\n  a: 1\n  a: 2\n", "duplicate-key"),
        "same key flow": ("{a: 1, a: 2}\n", "duplicate-key"),
        "int spellings": ("1: a\n0x1: b\n", "duplicate-key"),
        "bool spellings": ("yes: a\ntrue: b\n", "duplicate-key"),
        "null spellings": ("a: 1\n'a': 2\n", "duplicate-key"),
        "int and string": ('1: a\n"1": b\n', "ambiguous-key"),
        "bool and string": ('true: a\n"true": b\n', "ambiguous-key"),
    }
    for name, (text, difference) in duplicates.items():
        cases.append(Case(f"key duplicate {name}", text, difference))
    return cases


def alias_cases() -> list[Case]:
    texts = {
        "merge one map": "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n",
        "merge before keys": "base: &b {x: 1}\nd:\n  <<: *b\n  x: 2\n",
        "merge after keys": "base: &b {x: 1}\nd:\n  x: 2\n  <<: *b\n",
        "merge list": "a: &a {x: 1}\nb: &b {x: 2, y: 2}\nd:\n  <<: [*a, *b]\n",
        "merge inline map": "d:\n  <<: {x: 1}\n  y: 2\n",
        "merge inline list": "d:\n  <<: [{x: 1}, {x: 2, y: 3}]\n",
        "merge nested merges": "a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nd: {<<: *b, z: 3}\n",
        "merge twice": "a: &a {x: 1}\nb: &b {y: 2}\nd:\n  <<: *a\n  <<: *b\n",
        "merge of a list alias": "l: &l [1, 2]\nd:\n  <<: *l\n",
        "merge of a scalar": "d:\n  <<: 1\n",
        "merge of null": "d:\n  <<: ~\n",
        "merge list with scalar": "d:\n  <<: [1]\n",
        "merge empty list": "d:\n  <<: []\n  x: 1\n",
        "quoted merge key": "d:\n  '<<': {x: 1}\n",
        "tagged merge key": "a: &a {x: 1}\nd:\n  !!merge <<: *a\n",
        "merge key as value": "d: <<\n",
        "merge int keys": "a: &a {1: x}\nd:\n  <<: *a\n  2: y\n",
        "merge self": "a: &a\n  <<: *a\n",
        "alias of a scalar": "a: &a text\nb: *a\n",
        "alias of a list": "a: &a [1, 2]\nb: *a\nc: [*a, *a]\n",
        "alias of a map": "a: &a {x: 1}\nb: *a\n",
        "alias inside itself": "a: &a [1, *a]\n",
        "anchor redefined": "a: &x 1\nb: *x\nc: &x 2\nd: *x\n",
        "anchor redefined in a later document": "a: 1\n---\nb: &x 1\nc: &x 2\nd: *x\n",
        "anchor of another document": "a: &x 1\n---\nb: &x 2\nc: *x\n",
        "anchor on a document": "--- &d\na: 1\n",
        "anchor and tag": "a: &x !!str 12\nb: *x\n",
        "tag and anchor": "a: !!str &x 12\nb: *x\n",
        "anchor on an int": "a: &x 12\nb: *x\n",
        "alias to a null": "a: &x\nb: *x\n",
        "anchor in a url": "a: http://x.test/?a=1&b=2\n",
        "moderate aliasing": "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
        + "".join(f"b{i}: *a\n" for i in range(50)),
    }
    cases = [Case(f"alias {name}", text) for name, text in texts.items()]
    cases.append(Case("alias bomb", billion_laughs()))
    cases.append(Case("alias merge bomb", merge_bomb()))
    cases.append(Case("alias excessive ratio", excessive_aliases()))
    return cases


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for name, previous in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + "\n"


def merge_bomb() -> str:
    """Merge keys that would merge 9**9 maps: tiny text, exponential work for a naive reader."""
    lines = ["a: &a {k0: 0, k1: 1, k2: 2}"]
    previous = "a"
    for number in range(1, 10):
        name = f"m{number}"
        lines.append(f"{name}: &{name} {{<<: [{', '.join([f'*{previous}'] * 9)}], n{number}: {number}}}")
        previous = name
    return "\n".join(lines) + "\n"


def excessive_aliases() -> str:
    """Few nodes, mostly reached through aliases: go-yaml refuses it though it expands to little."""
    return "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: [" + ", ".join(["*a"] * 200) + "]\n"


def json_cases() -> list[Case]:
    texts = {
        "object": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}\n',
        "numbers": '{"a": 1, "b": 1.0, "c": 1e3, "d": 1.5, "e": -0, "f": 1E-7, "g": 1e21}\n',
        "two objects": '{"a": 1}\n{"b": 2}\n',
        "three objects glued": '{"a": 1}{"b": 2}{"c": 3}',
        "object then yaml": '{"a": 1}\n---\nb: 2\n',
        "object then plain yaml": '{"a": 1}\nb: 2\n',
        "leading whitespace": '\n\n   {"a": 1}\n',
        "array": '[{"a": 1}]\n',
        "nested": '{"a": {"b": [1, {"c": null}]}}\n',
        "escapes": '{"a": "\\u00e9\\n\\t\\"\\/"}\n',
        "surrogate pair": '{"a": "\\ud83d\\ude00"}\n',
        "nan": '{"a": NaN}\n',
        "infinity": '{"a": Infinity}\n',
        "too large": '{"a": 1e400}\n',
        "yaml flow map": "{a: 1, b: yes}\n",
        "invalid then yaml fails": '{"a": }\n',
        "object then garbage": '{"a": 1} ]\n',
        "two objects then error": '{"a": 1}\n{"b": 2}\n{"c": }\n',
        "bom before object": '\ufeff{"a": 1}\n',
        "object then null": '{"a": 1}\nnull\n',
        "object then scalar": '{"a": 1}\n5\n',
        "trailing comma": '{"a": 1,}\n',
        "single quotes": "{'a': 1}\n",
        "tab in string": '{"a": "x\ty"}\n',
        "comment after": '{"a": 1} # c\n',
        "comment after at end of file": '{"a": 1} # c',
        "short tail at end of file": '{"a": 1}\nx',
        "longer tail at end of file": '{"a": 1}\nxyzw: 1',
    }
    cases = [Case(f"json {name}", text) for name, text in texts.items()]
    cases.append(Case("json duplicate key", '{"a": 1, "a": 2}\n', "duplicate-key-json"))
    cases.append(Case("json big integer", '{"a": 18446744073709551615}\n', "integer-range"))
    cases.append(Case("json lone surrogate", '{"a": "\\ud800"}\n', "lone-surrogate"))
    return cases


def long_line_cases() -> list[Case]:
    return [
        Case("long value 5000", "a: " + "x" * 5000 + "\n"),
        Case("long value 100000", "a: " + "y" * 100_000 + "\n"),
        Case("long quoted value", 'a: "' + "z " * 20_000 + '"\n'),
        Case("long flow line", "a: [" + ", ".join(str(i) for i in range(5000)) + "]\n"),
        Case("long line past the json sniff", " " * 5000 + '{"a": 1}\n'),
        Case("many keys", "".join(f"k{i}: {i}\n" for i in range(3000))),
    ]


def manifest_cases() -> list[Case]:
    """The values of the issue, in ConfigMaps, as teams write them."""
    values = [
        "2024-01-01",
        "2001-12-14T21:59:43.10-05:00",
        "!!binary aGVsbG8=",
        "12:30",
        "=",
        "y",
        "n",
        "0o17",
        "1e3",
    ]
    header = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n"
    cases = [Case(f"configmap {value!r}", f"{header}  k: {value}\n") for value in values]
    cases.append(
        Case("configmap list", "apiVersion: v1\nkind: ConfigMapList\nitems:\n- metadata: {name: a}\n")
    )
    return cases


def corpus() -> list[Case]:
    cases = [
        *scalar_cases(),
        *stream_cases(),
        *block_scalar_cases(),
        *flow_cases(),
        *key_cases(),
        *alias_cases(),
        *json_cases(),
        *long_line_cases(),
        *manifest_cases(),
    ]
    names = [case.name for case in cases]
    if len(set(names)) != len(names):
        raise ValueError(f"corpus names repeat: {sorted({n for n in names if names.count(n) > 1})}")
    return cases
