"""Everything a run needs, resolved once: flags over the config file over defaults.

`cli.py` calls `resolve()`; the pipeline and stages only read the frozen `Settings` it returns. The
optional config file `gitops-push.yaml` at the repository root is checked against a JSON Schema of our
own, so a typo is an error naming the file, line, key and reason rather than a silently ignored key.
"""

from __future__ import annotations

import enum
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_push import naming
from gitops_push.errors import ConfigError, UsageError
from gitops_push.model import Diffs, SourceLocation

CONFIG_FILE = "gitops-push.yaml"
DEFAULT_ENVIRONMENT = "default"

NAME_PATTERN = "^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$"
HELM_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["chart", "release", "namespace"],
    "properties": {
        "chart": {"type": "string", "minLength": 1},
        "release": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "namespace": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "values": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "set": {"type": "array", "items": {"type": "string", "pattern": "="}},
    },
}
CONFIG_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "environments": {
            "type": "object",
            "propertyNames": {"pattern": NAME_PATTERN},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "anyOf": [{"required": ["paths"]}, {"required": ["kustomize"]}, {"required": ["helm"]}],
                "properties": {
                    "paths": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
                    "kustomize": {
                        "oneOf": [
                            {"type": "string", "minLength": 1},
                            {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
                        ]
                    },
                    "helm": {"oneOf": [HELM_SCHEMA, {"type": "array", "minItems": 1, "items": HELM_SCHEMA}]},
                    "context": {"type": "string", "minLength": 1},
                    "namespace": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                    "tag_prefix": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9]$"},
                    "adopt": {"type": "boolean"},
                    "namespaces": {
                        "type": "array",
                        "items": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                    },
                    "kinds": {
                        "type": "array",
                        "items": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9]*(\\.[a-z0-9.-]+)?$"},
                    },
                    "branch": {"type": "string", "minLength": 1},
                },
            },
        },
    },
}


def cache_dir() -> Path:
    """Discovery and OpenAPI caches: $GITOPS_PUSH_CACHE, else $XDG_CACHE_HOME/gitops-push, else ~/.cache/…"""
    if os.environ.get("GITOPS_PUSH_CACHE"):
        return Path(os.environ["GITOPS_PUSH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gitops-push"


class Mode(enum.Enum):
    PLAN = "plan"  # what would change; no cluster writes at all
    DRY_RUN = "dry-run"  # the whole pipeline up to the server-side dry-run; no writes, no tag
    DEPLOY = "deploy"
    STATUS = "status"  # drift: the live objects against the last deployed tag; no writes


@dataclass(frozen=True)
class HelmChart:
    """A chart rendered with `helm template RELEASE CHART -n NAMESPACE -f VALUES... --set SET...`."""

    chart: str
    release: str
    namespace: str
    values: tuple[str, ...] = ()
    set_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Environment:
    name: str
    paths: tuple[str, ...]
    namespace: str | None = None
    context: str | None = None
    tag_prefix: str = ""
    adopt: bool = False  # take over existing objects without --adopt
    namespaces: tuple[str, ...] = ()  # allow-list of namespaces (empty: any)
    kinds: tuple[str, ...] = ()  # allow-list of `Kind` or `Kind.group` (empty: any)
    branch: str | None = None  # deploy tags count only on this branch; None: the remote's default
    kustomize: tuple[str, ...] = ()  # kustomization folders rendered at each side of the range
    helm: tuple[HelmChart, ...] = ()  # charts rendered at each side of the range

    @property
    def rendered(self) -> bool:
        return bool(self.kustomize or self.helm)

    @property
    def prefix(self) -> str:
        return self.tag_prefix or naming.tag_prefix(self.name)


@dataclass(frozen=True)
class Flags:
    """What the command line says, typed: every option of every command, and its default (the only
    place the defaults live). `None` in an environment field means "as gitops-push.yaml says"."""

    environment: str | None = None
    paths: tuple[str, ...] = ()
    namespace: str | None = None
    tag_prefix: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    repo: Path = Path()
    to: str = "HEAD"
    from_rev: str | None = None
    offline: bool = False
    all_objects: bool = False
    allow_older: bool = False  # deploy an ancestor of the last deployed commit
    force: bool = False  # deploy a commit that does not descend from the last deployed one
    dry_run: bool = False
    force_conflicts: bool = False
    adopt: bool = False  # take over existing objects that the environment did not create
    prune_adopted: bool = False  # delete adopted objects Git removed, instead of releasing them
    prune: bool = True
    allow_empty: bool = False
    max_prune: int = 50
    replace_immutable: bool = False
    push: bool | None = None  # None: push when the repository has a remote
    wait: bool = True
    timeout: float = 300.0  # seconds for health, in all
    rollback_on_failure: bool = False
    lock_timeout: float = 600.0
    concurrency: int | None = None  # requests in flight; None: grown with the round trip
    request_timeout: float = 30.0  # one request's read timeout: a stalled connection is retried
    retry_timeout: float = 90.0  # all attempts of one request on 429 and 5xx answers together
    unreachable_timeout: float = 30.0  # no answer at all from the API server, for the whole run
    output: str | None = None  # text | json | github; None: github inside GitHub Actions, else text
    junit: Path | None = None
    no_color: bool = False
    verbose: int = 0
    quiet: bool = False
    show_diff: bool = False
    detailed_exitcode: bool = False  # plan
    exit_code: bool = False  # status
    target_tag: str | None = None  # rollback --to
    source: str | None = None  # promote --from
    limit: int = 20  # history


@dataclass(frozen=True)
class Settings:
    """A run's settings: the flags, the environment they resolve to, and what the command decided."""

    mode: Mode
    repo: Path  # the repository's root
    environment: Environment
    flags: Flags
    to: str = "HEAD"  # the commit to deploy: --to, or the target of a rollback or promotion
    diffs: Diffs = Diffs.UPDATES  # which changes get a rendered diff
    metadata: Mapping[str, Any] = field(default_factory=dict)  # extra deploy-tag metadata


Config = Mapping[str, Any]  # gitops-push.yaml, parsed and checked (`parse_config`)


def resolve(mode: Mode, repo: Path, flags: Flags, config: Config) -> Settings:
    """Merge flags over the config file; raise ConfigError or UsageError with the place and the reason."""
    name = flags.environment or DEFAULT_ENVIRONMENT
    declared = config.get("environments", {})
    if flags.environment and declared and name not in declared and not flags.paths:
        raise UsageError(
            f"environment {name!r} is not declared in {CONFIG_FILE}",
            hint=f"declared environments: {', '.join(sorted(declared))}; or give --path",
        )
    entry = declared.get(name, {})
    chosen_paths = tuple(flags.paths) or tuple(entry.get("paths", ()))
    # --path names plain folders instead of what the config file declares, its sources included.
    kustomize, helm = ((), ()) if flags.paths else _sources(entry)
    if not chosen_paths and not kustomize and not helm:
        raise UsageError(
            f"no manifest paths for environment {name!r}",
            hint=f"give --path DIR, or declare environments.{name}.paths in {CONFIG_FILE}",
        )
    where = "--path" if flags.paths else f"environments.{name}.paths"
    env = Environment(
        name=name,
        paths=tuple(_inside_repo(p, where) for p in chosen_paths),
        namespace=flags.namespace or entry.get("namespace"),
        context=flags.context or entry.get("context"),
        tag_prefix=(flags.tag_prefix or entry.get("tag_prefix") or "").rstrip("/"),
        adopt=bool(entry.get("adopt", False)),
        namespaces=tuple(entry.get("namespaces", ())),
        kinds=tuple(entry.get("kinds", ())),
        branch=entry.get("branch"),
        kustomize=kustomize,
        helm=helm,
    )
    check_names(env)
    return Settings(mode=mode, repo=repo, environment=env, flags=flags, to=flags.to, diffs=diffs_of(flags))


ENVIRONMENT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
REF_UNSAFE = re.compile(r"\.\.|//|@\{|\.lock(/|$)|/\.|^[-./]|[/.]$|[\x00-\x20\x7f~^:?*\[\\]")


def check_names(env: Environment) -> None:
    """Names that become Kubernetes object names (the Lease, the ApplySet parent, the field manager)
    and Git refs (the deploy tags) are checked before any request: a bad one would fail half-way."""
    if len(env.name) > 52 or not ENVIRONMENT_NAME.match(env.name):
        raise UsageError(
            f"environment name {env.name!r} cannot name Kubernetes objects",
            hint="use lowercase letters, digits, '-' and '.', at most 52 characters, starting and ending "
            "with a letter or digit",
        )
    if REF_UNSAFE.search(env.prefix):
        raise UsageError(
            f"tag prefix {env.prefix!r} is not a valid Git ref name",
            hint="use letters, digits, '-', '_', '.' and '/' separated segments, e.g. deployed/production",
        )


def _sources(entry: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[HelmChart, ...]]:
    """`kustomize:` and `helm:` of a config entry (one or a list each), as typed values."""
    folders = entry.get("kustomize", ())
    charts = entry.get("helm", ())
    folders = (folders,) if isinstance(folders, str) else tuple(folders)
    charts = (charts,) if isinstance(charts, Mapping) else tuple(charts)
    helm = tuple(
        HelmChart(
            chart=c["chart"],
            release=c["release"],
            namespace=c["namespace"],
            values=tuple(c.get("values", ())),
            set_values=tuple(c.get("set", ())),
        )
        for c in charts
    )
    return folders, helm


def diffs_of(flags: Flags) -> Diffs:
    """Diffs cost most of a large plan: render only those someone will read."""
    if not flags.show_diff or flags.quiet or flags.output == "json":
        return Diffs.NONE
    return Diffs.ALL if flags.verbose else Diffs.UPDATES


def declared(config: Config, environment: str) -> Environment:
    """An environment as the config file declares it (no paths needed): for the commands that read
    another environment's tags or cluster (promote's source, history, unlock)."""
    entry = config.get("environments", {}).get(environment, {})
    return Environment(
        name=environment,
        paths=(),
        context=entry.get("context"),
        tag_prefix=(entry.get("tag_prefix") or "").rstrip("/"),
        branch=entry.get("branch"),
    )


def is_declared(config: Config, environment: str) -> bool:
    return environment in config.get("environments", {})


def parse_config(content: bytes | None) -> dict[str, Any]:
    """The config file's content (None: there is none) parsed and checked against CONFIG_SCHEMA.

    Its errors name the line and the key but never quote a value: a config file can be a symlink
    to, or a copy of, something secret, and its errors reach CI logs and annotations."""
    if content is None:
        return {}
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "the config file is not UTF-8 text", location=SourceLocation(CONFIG_FILE, 1)
        ) from exc
    from gitops_push import yamltext  # not at import time: `--help` must not load PyYAML

    try:
        documents = list(yamltext.load_documents(text))
    except yamltext.YamlError as exc:
        # The parser's words name keys and characters; a long word could be a value (a token): cut.
        message = re.sub(r"[^\s'\"]{24,}", "…", exc.message)
        raise ConfigError(message, location=SourceLocation(CONFIG_FILE, exc.line)) from exc
    if not documents or documents[0].data is None:
        return {}
    if len(documents) > 1:
        raise ConfigError(
            "the config file must hold one YAML document", location=SourceLocation(CONFIG_FILE, 1)
        )
    data = documents[0].data
    _check_schema(data, text)
    result: dict[str, Any] = data
    for name, env in result.get("environments", {}).items():
        for index, entry in enumerate(env.get("paths", ())):
            where = ["environments", name, "paths", index]
            _inside_repo(entry, ".".join(map(str, where)), text=text, where=where)
    return result


def _check_schema(data: Any, text: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(CONFIG_SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    error = _innermost(errors[0])
    where = list(error.absolute_path)
    key = ".".join(map(str, where)) or "(top level)"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        reason = f"unknown key {_shown_key(extra[0])}" if extra else "unknown keys"
        where = [*where, extra[0]] if extra else where
        key = ".".join(_printable(str(part)) for part in where)
    elif error.validator == "anyOf":  # the only one: what an environment must name
        reason = "an environment needs 'paths', 'kustomize' or 'helm'"
    else:
        reason = _reason(error.validator, error.schema)
    from gitops_push import yamltext

    line = yamltext.line_of(text, 0, where) or 1
    raise ConfigError(f"{key}: {reason}", location=SourceLocation(CONFIG_FILE, line))


def _reason(validator: str, schema: Mapping[str, Any]) -> str:
    """Why a value was refused, from the schema alone: never the value itself."""
    if validator == "type":
        return f"must be of type {schema.get('type')}"
    if validator == "pattern":
        return f"does not match the pattern {schema.get('pattern')}"
    if validator in ("minItems", "minLength"):
        return "must not be empty"
    if validator == "required":
        return f"needs the keys {', '.join(schema.get('required', ()))}"
    if validator == "propertyNames":
        return "has a name that is not a valid environment name (lowercase letters, digits, '-', '_', '.')"
    return f"fails the {validator} rule"


def _printable(key: str) -> str:
    """A key as an error shows it: printable, and short (a key could be a pasted value)."""
    shown = "".join(c if c.isprintable() else "?" for c in key)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _shown_key(key: str) -> str:
    return repr(_printable(key))


def _innermost(error: Any) -> Any:
    """For a `oneOf` (one folder or a list; one chart or a list), the error of the closest branch: it
    names the key that is wrong inside the chart, not only that no branch matched."""
    import jsonschema

    if error.validator != "oneOf" or not error.context:
        return error
    # A branch of the other shape (a list where a mapping is) says nothing about the mistake.
    shaped = [e for e in error.context if not (e.validator == "type" and len(e.relative_schema_path) == 2)]
    return _innermost(jsonschema.exceptions.best_match(shaped or error.context))


def _inside_repo(entry: str, key: str, *, text: str | None = None, where: Sequence[str | int] = ()) -> str:
    """A path relative to the repository root, normalised; refuse one that leaves the repository."""
    normal = posixpath.normpath(entry.replace("\\", "/"))
    if entry.startswith("/") or normal == ".." or normal.startswith("../"):
        from gitops_push import yamltext

        line = yamltext.line_of(text, 0, where) if text else None
        shown = (
            f"path {entry!r}" if text is None else "the path"
        )  # a flag's own value, or the file's: not echoed
        message = f"{key}: {shown} is outside the repository"
        if text is not None:
            raise ConfigError(message, location=SourceLocation(CONFIG_FILE, line or 1))
        raise UsageError(message, hint="paths are relative to the repository root")
    return "" if normal == "." else normal
