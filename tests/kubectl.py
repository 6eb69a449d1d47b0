"""kubectl's reading of manifest files, through tools/go/yamloracle, for the parity tests.

The oracle is built from its Go module by tools/build-go-tool (cached after the first build). A test
that needs it fails, saying why, when Go is missing or the build fails: it is never skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gitops_push import yamltext

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Reading:
    """What a reader made of one file: its documents' JSON, or why it refused the file."""

    documents: list[Any] = field(default_factory=list)
    objects: list[Any] = field(default_factory=list)  # kubectl only: what it would apply
    objects_errors: list[str] = field(default_factory=list)
    error: str | None = None


def build_oracle() -> Path:
    if shutil.which("go") is None:
        pytest.fail("Go is not installed: the kubectl oracle (tools/go/yamloracle) is built with go build")
    result = subprocess.run(
        [str(ROOT / "tools" / "build-go-tool"), "yamloracle"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"tools/build-go-tool yamloracle failed:\n{result.stderr[-3000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def kubectl_read(oracle: Path, texts: Sequence[str | bytes], folder: Path) -> list[Reading]:
    """kubectl's reading of each text (written to a file in `folder`), one oracle run for all."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, text in enumerate(texts):
        path = folder / f"case-{number:05d}.yaml"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        paths.append(path)
    readings = {str(path): Reading() for path in paths}
    result = subprocess.run([str(oracle), *map(str, paths)], capture_output=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"yamloracle failed: {result.stderr.decode(errors='replace')[-2000:]}")
    ended = set()
    for line in result.stdout.decode().split("\n"):
        if not line:
            continue
        entry = json.loads(line)
        reading = readings[entry["file"]]
        if entry.get("end"):
            ended.add(entry["file"])
        elif "error" in entry:
            reading.error = entry["error"]
            ended.add(entry["file"])
        else:
            reading.documents.append(entry["json"])
            reading.objects.extend(entry.get("objects", []))
            if "objects_error" in entry:
                reading.objects_errors.append(entry["objects_error"])
    missing = [name for name in readings if name not in ended]
    if missing:
        pytest.fail(f"yamloracle gave no end for {missing[:3]}")
    return [readings[str(path)] for path in paths]


def gitops_read(text: str) -> Reading:
    try:
        return Reading(documents=[document.data for document in yamltext.load_documents(text)])
    except yamltext.YamlError as exc:
        return Reading(error=exc.message)


def typed(value: Any) -> Any:
    """A value with its JSON types spelled out: True is not 1, and 1 is not 1.0."""
    if isinstance(value, dict):
        return ("map", sorted((key, typed(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    return (type(value).__name__, value)
