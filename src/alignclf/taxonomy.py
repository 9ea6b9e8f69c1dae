"""The label set (pillars and sectors), read from configs/taxonomy.yaml; no label is named in code."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from alignclf.errors import AlignclfError

LEVELS = ("pillars", "sectors")


class TaxonomyError(AlignclfError, ValueError):
    """A taxonomy file or record that is not well formed."""


@dataclass(frozen=True)
class Label:
    name: str
    level: str
    description: str = ""
    usual_pillar: str | None = None


@dataclass(frozen=True)
class Taxonomy:
    """Pillars then sectors, in file order; that order is the column order of every score matrix.

    >>> t = Taxonomy.from_dict({"pillars": [{"name": "p"}], "sectors": [{"name": "s"}]})
    >>> t.names
    ['p', 's']
    """

    labels: tuple[Label, ...]

    @property
    def names(self) -> list[str]:
        return [label.name for label in self.labels]

    def level(self, level: str) -> list[str]:
        return [label.name for label in self.labels if label.level == level]

    @property
    def pillars(self) -> list[str]:
        return self.level("pillars")

    @property
    def sectors(self) -> list[str]:
        return self.level("sectors")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {level: [] for level in LEVELS}
        for label in self.labels:
            entry: dict[str, Any] = {"name": label.name, "description": label.description}
            if label.usual_pillar:
                entry["usual_pillar"] = label.usual_pillar
            out[label.level].append(entry)
        return out

    @property
    def digest(self) -> str:
        """Hash of the label names and levels: descriptions may be reworded without retraining."""
        key = json.dumps({level: self.level(level) for level in LEVELS})
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, tree: dict[str, Any], source: str = "taxonomy") -> Taxonomy:
        if not isinstance(tree, dict):
            raise TaxonomyError(f"{source}: expected a mapping with 'pillars' and 'sectors'")
        unknown = set(tree) - set(LEVELS)
        if unknown:
            raise TaxonomyError(f"{source}: unknown key(s) {sorted(unknown)}")
        labels: list[Label] = []
        for level in LEVELS:
            entries = tree.get(level)
            if not isinstance(entries, list) or not entries:
                raise TaxonomyError(f"{source}: '{level}' must be a non-empty list")
            for index, entry in enumerate(entries):
                where = f"{source}: {level}[{index}]"
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    raise TaxonomyError(f"{where}: each entry needs a string 'name'")
                labels.append(
                    Label(
                        name=entry["name"],
                        level=level,
                        description=str(entry.get("description", "")).strip(),
                        usual_pillar=entry.get("usual_pillar"),
                    )
                )
        names = [label.name for label in labels]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise TaxonomyError(f"{source}: label names must be unique, repeated: {duplicates}")
        pillars = {label.name for label in labels if label.level == "pillars"}
        for label in labels:
            if label.usual_pillar is not None and label.usual_pillar not in pillars:
                raise TaxonomyError(f"{source}: sector {label.name!r} has unknown usual_pillar {label.usual_pillar!r}")
        return cls(tuple(labels))

    @classmethod
    def from_yaml(cls, path: str | Path) -> Taxonomy:
        try:
            tree = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TaxonomyError(f"taxonomy file not found: {path}") from None
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f":{where.line + 1}" if where is not None else ""
            raise TaxonomyError(f"{path}{at}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
        return cls.from_dict(tree, source=str(path))
