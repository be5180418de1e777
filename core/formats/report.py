"""What an import or export did: counts, and each item skipped or repaired,
with its file and the reason."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Issue:
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass
class Report:
    action: str = "import"
    format: str = ""
    images: int = 0
    annotations: int = 0
    masks: int = 0
    relations: int = 0
    groups: int = 0
    skipped: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    output: str | None = None

    def skip(self, file, message: str) -> None:
        self.skipped.append(Issue(str(file), message))

    def warn(self, file, message: str) -> None:
        self.warnings.append(Issue(str(file), message))

    @property
    def nothing_done(self) -> bool:
        return self.images == 0 and self.annotations == 0 and self.masks == 0

    def summary(self) -> str:
        parts = [f"{self.images} images", f"{self.annotations} annotations"]
        for name in ("masks", "relations", "groups"):
            if getattr(self, name):
                parts.append(f"{getattr(self, name)} {name}")
        verb = "imported" if self.action == "import" else "exported"
        line = f"{self.format}: {verb} " + ", ".join(parts)
        if self.skipped:
            line += f"; skipped {len(self.skipped)}"
        if self.warnings:
            line += f"; {len(self.warnings)} warnings"
        return line

    def to_dict(self) -> dict:
        return {
            "action": self.action, "format": self.format, "images": self.images,
            "annotations": self.annotations, "masks": self.masks, "relations": self.relations,
            "groups": self.groups, "output": self.output,
            "skipped": [{"file": i.file, "reason": i.message} for i in self.skipped],
            "warnings": [{"file": i.file, "message": i.message} for i in self.warnings],
        }
