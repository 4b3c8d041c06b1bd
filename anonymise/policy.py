"""The anonymisation policy: treatments, thresholds and release settings, as a hashed TOML file.

The policy is data the DPO changes, not code. Its SHA-256 identifies it in every report and release;
approval by signature comes with issue 3.
"""

from __future__ import annotations

import difflib
import hashlib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

REQUIRED = {
    "policy": ("name", "version", "purpose", "dpia_reference"),
    "treatments": ("DI", "QI", "SA", "FT", "OP"),
    "disclosure": ("method", "threshold"),
    "release": ("tables", "recipient", "classification"),
}
METHODS = ("suppression",)


class PolicyError(ValueError):
    """The policy file is not valid; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Policy:
    """A loaded policy with its text and hash."""

    source: str
    text: str
    data: dict[str, Any]

    @property
    def sha256(self) -> str:
        """Return the SHA-256 of the policy text (hex)."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def threshold(self) -> int:
        """Return the minimum published count."""
        return int(self.data["disclosure"]["threshold"])

    @property
    def tables(self) -> list[str]:
        """Return the table IDs the release holds."""
        return list(self.data["release"]["tables"])

    def dropped_fields(self) -> set[str]:
        """Return the ``entity.field`` names the policy drops outright."""
        return {k for k, v in self.data.get("fields", {}).items() if v == "drop"}

    def diff(self, previous: str | None) -> list[str]:
        """Return a unified diff of this policy against a previous policy text (empty if equal)."""
        if previous is None:
            return []
        return list(
            difflib.unified_diff(previous.splitlines(), self.text.splitlines(), "previous", "current", lineterm="")
        )


def default_policy_text() -> str:
    """Return the text of the policy shipped with zakrila."""
    return resources.files("anonymise").joinpath("default_policy.toml").read_text("utf-8")


def load_policy(path: Path | None = None) -> Policy:
    """Return the policy at ``path`` (the shipped default if None), validated."""
    text = default_policy_text() if path is None else Path(path).read_text("utf-8")
    source = "default" if path is None else str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: {exc}") from None
    for section, keys in REQUIRED.items():
        if section not in data:
            raise PolicyError(f"{source}: section [{section}] is missing")
        for key in keys:
            if key not in data[section]:
                raise PolicyError(f"{source}: [{section}] lacks {key!r}")
    if data["disclosure"]["method"] not in METHODS:
        raise PolicyError(f"{source}: [disclosure] method must be one of {', '.join(METHODS)}")
    if not isinstance(data["disclosure"]["threshold"], int) or data["disclosure"]["threshold"] < 2:
        raise PolicyError(f"{source}: [disclosure] threshold must be an integer of at least 2")
    unknown = [t for t in data["release"]["tables"] if t not in ("T04", "T11")]
    if unknown:
        raise PolicyError(f"{source}: [release] tables {unknown} are not built yet (known: T04, T11)")
    return Policy(source=source, text=text, data=data)
