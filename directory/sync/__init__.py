"""LDAP / Active Directory sync of designated contacts (DESIGN.md: LDAP sync; TRAPS.md 9-15).

Rule of this package: nothing is changed unless the directory gave a complete answer and the plan passed
the guards. `source` reads (and refuses partial answers), `contacts` sanitises values, `plan` computes
the change against the current entry, `guards` stop suspicious plans, `apply` writes one transaction.
The scheduler and the CLI call `run_source`.
"""

from __future__ import annotations

from directory.sync.apply import EXIT_CODES, SyncResult, recent_runs, run_source
from directory.sync.config import SourceConfig, load_source, load_sources
from directory.sync.source import DirectorySource, DirectoryUser, LdapSource, Snapshot

__all__ = [
    "EXIT_CODES",
    "DirectorySource",
    "DirectoryUser",
    "LdapSource",
    "Snapshot",
    "SourceConfig",
    "SyncResult",
    "load_source",
    "load_sources",
    "recent_runs",
    "run_source",
]
