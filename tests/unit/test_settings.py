"""settings: flags over gitops-push.yaml over defaults; every config mistake names the file, line and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops_push import settings
from gitops_push.errors import ConfigError, ExitCode, UsageError
from gitops_push.model import SourceLocation
from gitops_push.settings import Environment, Mode, Settings

CONFIG = """\
environments:
  staging:
    paths: [k8s/base, k8s/staging]
    namespace: shop-staging
    context: kind-staging
  production:
    paths:
      - k8s/base
      - ./k8s/production/
    namespace: shop
    tag_prefix: releases/prod
    branch: release
"""


def repo_with(tmp_path: Path, config: str | None) -> Path:
    if config is not None:
        (tmp_path / settings.CONFIG_FILE).write_text(config, encoding="utf-8")
    return tmp_path


def config_of(repo: Path) -> settings.Config:
    """The config as the pipeline hands it over (it reads the file from Git at the target commit)."""
    path = repo / settings.CONFIG_FILE
    return settings.parse_config(path.read_bytes() if path.exists() else None)


def config_error(tmp_path: Path, config: str) -> ConfigError:
    repo = repo_with(tmp_path, config)
    with pytest.raises(ConfigError) as caught:
        config_of(repo)
    return caught.value


def resolve(repo: Path, environment: str | None = None, **flags: Any) -> Settings:
    if "paths" in flags:
        flags["paths"] = tuple(flags["paths"])
    return settings.resolve(
        Mode.PLAN, repo, settings.Flags(environment=environment, **flags), config_of(repo)
    )


# --- load_config --------------------------------------------------------------------------------


def test_no_config_file_is_an_empty_config(tmp_path: Path) -> None:
    assert config_of(tmp_path) == {}


def test_an_empty_config_file_is_an_empty_config(tmp_path: Path) -> None:
    assert config_of(repo_with(tmp_path, "# nothing yet\n")) == {}


def test_a_valid_config_is_returned_as_data(tmp_path: Path) -> None:
    data = config_of(repo_with(tmp_path, CONFIG))
    assert data["environments"]["staging"] == {
        "paths": ["k8s/base", "k8s/staging"],
        "namespace": "shop-staging",
        "context": "kind-staging",
    }


def test_an_unknown_top_level_key_names_the_key_and_its_line(tmp_path: Path) -> None:
    error = config_error(tmp_path, "environments:\n  prod:\n    paths: [k8s]\nenvironment: {}\n")
    assert error.location == SourceLocation(settings.CONFIG_FILE, 4)
    assert error.message == "environment: unknown key 'environment'"
    assert error.exit_code == ExitCode.USAGE


def test_an_unknown_key_in_an_environment_names_the_full_key_and_its_line(tmp_path: Path) -> None:
    error = config_error(tmp_path, "environments:\n  prod:\n    paths: [k8s]\n    namepsace: shop\n")
    assert error.location == SourceLocation("gitops-push.yaml", 4)
    assert error.message == "environments.prod.namepsace: unknown key 'namepsace'"
    assert str(error) == "gitops-push.yaml:4: environments.prod.namepsace: unknown key 'namepsace'"


def test_paths_of_the_wrong_type_name_the_key_and_its_line(tmp_path: Path) -> None:
    error = config_error(tmp_path, "environments:\n  prod:\n    namespace: shop\n    paths: k8s\n")
    assert error.location == SourceLocation("gitops-push.yaml", 4)
    assert error.message == "environments.prod.paths: must be of type array"


def test_a_namespace_of_the_wrong_type_names_the_key_and_its_line(tmp_path: Path) -> None:
    error = config_error(tmp_path, "environments:\n  prod:\n    paths: [k8s]\n    namespace: 5\n")
    assert error.location == SourceLocation("gitops-push.yaml", 4)
    assert error.message.startswith("environments.prod.namespace: ")
    assert error.message.endswith("must be of type string")


def test_an_invalid_namespace_value_names_the_key(tmp_path: Path) -> None:
    error = config_error(tmp_path, "environments:\n  prod:\n    paths: [k8s]\n    namespace: Shop\n")
    assert error.location == SourceLocation("gitops-push.yaml", 4)
    assert error.message.startswith("environments.prod.namespace: does not match the pattern")
    assert "Shop" not in error.message  # a value is never echoed


def test_empty_paths_are_an_error_at_their_line(tmp_path: Path) -> None:
    error = config_error(tmp_path, "environments:\n  prod:\n    paths: []\n")
    assert error.location == SourceLocation("gitops-push.yaml", 3)
    assert error.message.startswith("environments.prod.paths: ")


def test_an_environment_without_paths_names_the_environment(tmp_path: Path) -> None:
    error = config_error(tmp_path, "environments:\n  prod:\n    namespace: shop\n")
    assert error.location == SourceLocation("gitops-push.yaml", 2)
    assert error.message == "environments.prod: an environment needs 'paths', 'kustomize' or 'helm'"


RENDERED = """\
environments:
  staging:
    kustomize: deploy/overlays/staging
  production:
    paths: [namespaces]
    kustomize: [deploy/overlays/production, deploy/extra]
    helm:
      - chart: charts/podinfo
        release: podinfo
        namespace: podinfo
        values: [charts/podinfo/values-prod.yaml]
        set: [replicaCount=2]
"""


def test_rendered_sources_need_no_paths(tmp_path: Path) -> None:
    staging = resolve(repo_with(tmp_path, RENDERED), "staging").environment
    assert staging.paths == ()
    assert staging.kustomize == ("deploy/overlays/staging",)
    assert staging.helm == ()
    assert staging.rendered


def test_sources_are_combined_with_paths(tmp_path: Path) -> None:
    production = resolve(repo_with(tmp_path, RENDERED), "production").environment
    assert production.paths == ("namespaces",)
    assert production.kustomize == ("deploy/overlays/production", "deploy/extra")
    assert production.helm == (
        settings.HelmChart(
            chart="charts/podinfo",
            release="podinfo",
            namespace="podinfo",
            values=("charts/podinfo/values-prod.yaml",),
            set_values=("replicaCount=2",),
        ),
    )


def test_path_flag_replaces_the_declared_sources(tmp_path: Path) -> None:
    production = resolve(repo_with(tmp_path, RENDERED), "production", paths=["k8s"]).environment
    assert production.paths == ("k8s",)
    assert not production.rendered


def test_a_helm_source_without_a_release_names_its_key_and_line(tmp_path: Path) -> None:
    error = config_error(
        tmp_path, "environments:\n  prod:\n    helm:\n      chart: charts/app\n      namespace: app\n"
    )
    assert error.location == SourceLocation("gitops-push.yaml", 3)
    assert error.message == "environments.prod.helm: needs the keys chart, release, namespace"


def test_an_unknown_helm_key_is_named(tmp_path: Path) -> None:
    error = config_error(
        tmp_path,
        "environments:\n  prod:\n    helm:\n      chart: c\n      release: r\n      namespace: app\n"
        "      valuez: [v.yaml]\n",
    )
    assert error.message == "environments.prod.helm.valuez: unknown key 'valuez'"
    assert error.location == SourceLocation("gitops-push.yaml", 7)


def test_an_invalid_environment_name_is_named(tmp_path: Path) -> None:
    error = config_error(tmp_path, "environments:\n  Prod:\n    paths: [k8s]\n")
    assert error.location is not None
    assert error.location.path == "gitops-push.yaml"
    assert error.message.startswith("environments: does not match the pattern")


def test_a_config_that_is_not_a_mapping_is_refused_at_the_top_level(tmp_path: Path) -> None:
    error = config_error(tmp_path, "- k8s\n")
    assert error.location == SourceLocation("gitops-push.yaml", 1)
    assert error.message.startswith("(top level): ")


@pytest.mark.parametrize(
    ("entry", "line", "key"),
    [
        ("../x", 5, "environments.prod.paths.1"),
        ("/abs", 5, "environments.prod.paths.1"),
        ("k8s/../../x", 5, "environments.prod.paths.1"),
        ("..", 5, "environments.prod.paths.1"),
    ],
)
def test_a_path_leaving_the_repository_names_its_key_and_line(
    tmp_path: Path, entry: str, line: int, key: str
) -> None:
    config = f"environments:\n  prod:\n    paths:\n      - k8s\n      - {entry}\n"
    error = config_error(tmp_path, config)
    assert error.location == SourceLocation("gitops-push.yaml", line)
    assert error.message == f"{key}: the path is outside the repository"


def test_a_path_in_flow_style_leaving_the_repository_names_its_line(tmp_path: Path) -> None:
    error = config_error(tmp_path, "environments:\n  prod:\n    namespace: shop\n    paths: [k8s, ../up]\n")
    assert error.location == SourceLocation("gitops-push.yaml", 4)
    assert error.message == "environments.prod.paths.1: the path is outside the repository"


def test_a_yaml_error_in_the_config_names_its_line(tmp_path: Path) -> None:
    error = config_error(tmp_path, "environments:\n  prod:\n    paths: [k8s\n  dev: {}\n")
    assert error.location is not None
    assert error.location.path == "gitops-push.yaml"
    assert error.location.line == 4


def test_a_duplicate_environment_is_an_error_at_the_second_one(tmp_path: Path) -> None:
    error = config_error(tmp_path, "environments:\n  prod:\n    paths: [a]\n  prod:\n    paths: [b]\n")
    assert error.location == SourceLocation("gitops-push.yaml", 4)
    assert error.message.startswith("duplicate key 'prod' (first at line 2)")


def test_two_documents_are_refused(tmp_path: Path) -> None:
    error = config_error(tmp_path, "environments: {}\n---\nenvironments: {}\n")
    assert error.location == SourceLocation("gitops-push.yaml", 1)
    assert "one YAML document" in error.message


def test_a_config_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "gitops-push.yaml").write_bytes(b"environments:\n  caf\xe9: {}\n")
    with pytest.raises(ConfigError) as caught:
        config_of(tmp_path)
    assert caught.value.location == SourceLocation("gitops-push.yaml", 1)
    assert caught.value.message == "the config file is not UTF-8 text"


# --- resolve --------------------------------------------------------------------------------------


def test_an_environment_comes_from_the_file_with_normalised_paths(tmp_path: Path) -> None:
    resolved = resolve(repo_with(tmp_path, CONFIG), "production")
    assert resolved.mode is Mode.PLAN
    assert resolved.repo == tmp_path
    assert resolved.environment == Environment(
        name="production",
        paths=("k8s/base", "k8s/production"),
        namespace="shop",
        context=None,
        tag_prefix="releases/prod",
        branch="release",
    )
    assert resolved.environment.prefix == "releases/prod"


def test_an_environment_declared_for_another_command_needs_no_paths(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, CONFIG)
    assert settings.declared(config_of(repo), "production") == Environment(
        name="production", paths=(), tag_prefix="releases/prod", branch="release"
    )
    assert settings.declared(config_of(repo), "staging").context == "kind-staging"
    assert settings.declared(config_of(repo), "staging").branch is None
    assert settings.declared(config_of(repo), "qa").prefix == "deployed/qa"
    assert settings.is_declared(config_of(repo), "staging") and not settings.is_declared(
        config_of(repo), "qa"
    )


def test_an_empty_branch_is_refused(tmp_path: Path) -> None:
    error = config_error(tmp_path, "environments:\n  prod:\n    paths: [k8s]\n    branch: ''\n")
    assert error.location == SourceLocation(settings.CONFIG_FILE, 4)
    assert "environments.prod.branch" in error.message


def test_the_default_tag_prefix_is_deployed_slash_env(tmp_path: Path) -> None:
    resolved = resolve(repo_with(tmp_path, CONFIG), "staging")
    assert resolved.environment.tag_prefix == ""
    assert resolved.environment.prefix == "deployed/staging"
    assert resolved.environment.context == "kind-staging"


def test_flags_override_the_file(tmp_path: Path) -> None:
    resolved = resolve(
        repo_with(tmp_path, CONFIG),
        "staging",
        paths=["apps/"],
        namespace="other",
        context="ctx",
        tag_prefix="mine/",
    )
    assert resolved.environment == Environment(
        name="staging", paths=("apps",), namespace="other", context="ctx", tag_prefix="mine"
    )


def test_other_options_reach_the_settings(tmp_path: Path) -> None:
    resolved = resolve(
        repo_with(tmp_path, CONFIG),
        "staging",
        to="main",
        from_rev="v1",
        offline=True,
        push=False,
        concurrency=3,
    )
    flags = resolved.flags
    assert (resolved.to, flags.from_rev, flags.offline, flags.push, flags.concurrency) == (
        "main",
        "v1",
        True,
        False,
        3,
    )


def test_without_a_file_paths_from_flags_make_the_default_environment(tmp_path: Path) -> None:
    resolved = resolve(tmp_path, None, paths=[".", "k8s"])
    assert resolved.environment == Environment(name="default", paths=("", "k8s"))
    assert resolved.environment.prefix == "deployed/default"


def test_an_undeclared_environment_is_a_usage_error_listing_the_declared_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        resolve(repo_with(tmp_path, CONFIG), "prod")
    assert caught.value.message == "environment 'prod' is not declared in gitops-push.yaml"
    assert caught.value.hint is not None
    assert "production, staging" in caught.value.hint


def test_an_undeclared_environment_with_paths_from_flags_is_allowed(tmp_path: Path) -> None:
    resolved = resolve(repo_with(tmp_path, CONFIG), "preview", paths=["k8s/preview"])
    assert resolved.environment == Environment(name="preview", paths=("k8s/preview",))


def test_no_paths_anywhere_is_a_usage_error_naming_the_environment(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        resolve(tmp_path, None)
    assert caught.value.message == "no manifest paths for environment 'default'"
    assert caught.value.hint is not None
    assert "environments.default.paths" in caught.value.hint


def test_no_paths_for_the_default_environment_of_a_config_without_it(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        resolve(repo_with(tmp_path, CONFIG), None)
    assert "no manifest paths for environment 'default'" in caught.value.message


@pytest.mark.parametrize("path", ["../x", "/abs", "k8s/../../x"])
def test_a_path_flag_leaving_the_repository_is_a_usage_error_naming_the_flag(
    tmp_path: Path, path: str
) -> None:
    with pytest.raises(UsageError) as caught:
        resolve(tmp_path, None, paths=["k8s", path])
    assert caught.value.message == f"--path: path {path!r} is outside the repository"
    assert caught.value.exit_code == ExitCode.USAGE


def test_a_bad_config_fails_resolve_even_when_flags_give_everything(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(repo_with(tmp_path, "environmnets: {}\n"), "prod", paths=["k8s"])
    assert caught.value.location == SourceLocation("gitops-push.yaml", 1)
    assert "unknown key 'environmnets'" in caught.value.message
