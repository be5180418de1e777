"""Reading and writing JSON files with errors that name the file."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import FormatError


def read_json(path: Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError("file not found", path) from None
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path) from None
    except OSError as exc:
        raise FormatError(f"cannot read ({exc.strerror})", path) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", path) from None


def write_json(path: Path, data: Any, indent: int | None = None) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=indent, ensure_ascii=False)
    os.replace(tmp, path)


def require(data: Any, key: str, kind: type, path: Path, where: str = "") -> Any:
    """``data[key]`` checked to be of ``kind``, or a FormatError naming the file."""
    if not isinstance(data, dict) or key not in data:
        raise FormatError(f"missing {key!r}{' in ' + where if where else ''}", path)
    value = data[key]
    if not isinstance(value, kind):
        raise FormatError(f"{key!r}{' in ' + where if where else ''} should be a {kind.__name__}, "
                          f"got {type(value).__name__}", path)
    return value
