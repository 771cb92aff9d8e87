"""Where clickpath keeps its files and how much it logs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


def default_instances_dir(environ: Mapping[str, str]) -> Path:
    """Per user: $XDG_RUNTIME_DIR/clickpath/instances (gone at logout, like the processes it
    names), else ~/.local/state/clickpath/instances."""
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "clickpath" / "instances"
    return Path.home() / ".local" / "state" / "clickpath" / "instances"


class PlacesSettings(BaseModel):
    """The data directory, the registry of running `up`s, the schemas, the log level."""

    data_dir: Path = Path(".clickpath")
    instances_dir: Path = Field(
        default_factory=lambda: default_instances_dir(os.environ),
        description="Where each running `up` registers, so client commands find it from anywhere.",
    )
    schemas_dir: Path | None = Field(
        default=None, description="Schemas to use instead of the shipped ones (development)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
