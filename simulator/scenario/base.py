"""The base model of every scenario section and the resolution of data-file paths."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationInfo


class _Model(BaseModel):
    """Base of every scenario model: frozen, unknown keys and non-finite numbers rejected,
    field docstrings kept as descriptions."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False
    )


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Resolve a relative data-file path against the scenario file's folder (if known)."""
    value = Path(value).expanduser()
    base = (info.context or {}).get("base_dir")
    if not value.is_absolute() and base is not None:
        value = Path(base) / value
    return value.resolve() if value.is_absolute() else value
