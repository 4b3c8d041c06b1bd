"""The workspace: where a run writes, folder by folder.

```
<workspace>/
  keys/                      the key store (mode 0700; keystore.json 0600)
  store/<jurisdiction>/<period>/<partner>/<batch>/<entity>.parquet   pseudonymised store
  quarantine/<partner>/<batch>/<entity>.csv   row, line and reason codes of rejected rows (no values)
  releases/<release_id>/     the ministry release (tables, manifest, signature)
  reports/<run_id>/          report.json and report.html for the DPO
  work/<run_id>/             intermediate tables of a run; deleted when the run ends
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Workspace:
    """Paths of a workspace folder."""

    root: Path

    @property
    def keys(self) -> Path:
        """Return the key store folder."""
        return self.root / "keys"

    @property
    def releases(self) -> Path:
        """Return the folder of releases."""
        return self.root / "releases"

    @property
    def reports(self) -> Path:
        """Return the folder of run reports."""
        return self.root / "reports"

    @property
    def policy(self) -> Path:
        """Return the path of the workspace's policy file (the shipped default applies if absent)."""
        return self.root / "policy.toml"

    def store(self, jurisdiction: str, period: str) -> Path:
        """Return the store folder of a jurisdiction and period."""
        return self.root / "store" / jurisdiction / period

    def quarantine(self, partner: str, batch: str) -> Path:
        """Return the quarantine folder of a batch."""
        return self.root / "quarantine" / partner / batch

    def work(self, run_id: str) -> Path:
        """Return the scratch folder of a run."""
        return self.root / "work" / run_id
