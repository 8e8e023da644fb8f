"""Pulumi projects on disk: the project's name, a stack's config file, the program to run.

A project directory holds ``Pulumi.yaml`` (its ``name``), ``__main__.py`` (the
program) and one ``Pulumi.<stack>.yaml`` per stack (its ``config``). The root
of this repository is one (its program reads ``pvenet:networks``); each
directory under ``examples/`` is another. ``render`` and ``up`` find what to
run here, the way the Pulumi CLI would.
"""

from __future__ import annotations

import argparse
import runpy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from provider.errors import PvenetError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The repository's root: the root program, its stacks, ``.venv`` and ``.state``."""
PROJECT_FILE = "Pulumi.yaml"
PROGRAM_FILE = "__main__.py"


class ProjectError(PvenetError, ValueError):
    """A project directory or stack file is missing or not what Pulumi expects."""


@dataclass(frozen=True)
class Project:
    """A Pulumi project directory and its name (``name:`` in ``Pulumi.yaml``)."""

    directory: Path
    name: str

    def stack_file(self, stack: str) -> Path:
        """``Pulumi.<stack>.yaml`` in the project directory."""
        return self.directory / f"Pulumi.{stack}.yaml"

    def stack_config(self, stack: str, *, required: bool = True) -> dict[str, Any]:
        """The ``config`` map of the stack's file, as written (structured values stay maps).

        ProjectError when the file is missing and ``required``, or is not a
        stack file; without ``required`` a missing file is an empty config.
        """
        path = self.stack_file(stack)
        if not path.exists():
            if required:
                raise ProjectError(f"{path} does not exist: there is no stack '{stack}' here")
            return {}
        data = _load_yaml(path)
        config = data.get("config") or {}
        if not isinstance(config, dict):
            raise ProjectError(f"{path}: 'config' must be a map of keys to values")
        return {str(key): value for key, value in config.items()}

    def program(self) -> Callable[[], None]:
        """The project's program: a function that runs its ``__main__.py``, as Pulumi would."""
        path = self.directory / PROGRAM_FILE
        if not path.exists():
            raise ProjectError(f"{path} does not exist: the project has no program to run")

        def run() -> None:
            runpy.run_path(str(path), run_name="__main__")

        return run


def load_project(directory: Path | str) -> Project:
    """The project in ``directory``; ProjectError if it has no usable ``Pulumi.yaml``."""
    root = Path(directory).resolve()
    path = root / PROJECT_FILE
    if not path.exists():
        raise ProjectError(f"{root} is not a Pulumi project: it has no {PROJECT_FILE}")
    name = _load_yaml(path).get("name")
    if not isinstance(name, str) or not name:
        raise ProjectError(f"{path}: 'name' must be the project's name")
    return Project(root, name)


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ProjectError(f"{path}: cannot read it: {error}") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: expected a YAML map at the top")
    return data


def add_program_argument(parser: argparse.ArgumentParser) -> None:
    """``--program DIR``: the project to run, the root program by default (a ``Path``)."""
    parser.add_argument(
        "--program",
        type=Path,
        default=PROJECT_ROOT,
        metavar="DIR",
        help="the Pulumi project directory (default: the root program; e.g. examples/homelab)",
    )
