"""What every config model shares: the strict base model, the name patterns, the duplicates helper."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

SHORT_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
# CloudWatch dimension values come upper-cased; sources equal after that collide.
ATTRIBUTION_SOURCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]*$"


class Strict(BaseModel):
    # Every field has Field(description=...): docs/configuration.md and config/schema.json show it.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_as_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """pydantic reads `true` as 1 for int and float fields; a YAML boolean there is a mistake."""
        annotation = cls.model_fields[info.field_name].annotation if info.field_name else None
        if isinstance(value, bool) and annotation in (int, float):
            raise ValueError(f"must be a number, but YAML read {str(value).lower()} as a boolean; write a number")
        return value


def duplicates(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return [n for n in names if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
