"""Options of one tagging run, stored with its session so ``--resume`` reuses them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class TagOptions:
    """How to run: ``strict`` never writes below the accept threshold; ``interactive``
    asks a person about uncertain matches (else they are queued for ``bdnex-core review``);
    ``timid`` treats every match as uncertain."""

    workers: int = 2
    dry_run: bool = False
    force: bool = False
    strict: bool = False
    interactive: bool = False
    timid: bool = False  # ask about every file, even above the accept threshold
    source: str = "folder"
    locations: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["locations"] = list(self.locations)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TagOptions:
        known = {item.name for item in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["locations"] = tuple(values.get("locations") or ())
        return cls(**values)
