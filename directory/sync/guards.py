"""Guards that stop a plan which looks like a directory failure rather than people leaving.

The classic sync bug (TRAPS.md 11) reads an error or an empty answer as "everyone left" and wipes the
roster. Completeness is checked where the data is read (`source`); these guards catch what a complete,
successful read can still get wrong: a base DN or filter that now matches nobody, a group emptied by
mistake. Both can be overridden with `--force` once a human has looked at the plan.
"""

from __future__ import annotations

import math

from directory.sync.config import SourceConfig
from directory.sync.plan import Plan


def tripped(plan: Plan, config: SourceConfig) -> str | None:
    """Why `plan` must not be applied without --force, or None."""
    if plan.designated == 0:
        return ("the directory returned no members of the configured groups; refusing to treat that as "
                "everyone leaving (check base_dn, user_filter and the groups, or use --force)")
    count = len(plan.deactivations)
    # One departure is never "mass" removal: without this floor a small organisation could not lose a
    # single contact without --force. Everyone leaving at once is still caught above.
    allowed = max(1, math.floor(config.max_deactivation_ratio * plan.active_before + 1e-9))
    if count > allowed:
        return (f"the plan deactivates {count} of {plan.active_before} active contacts, more than "
                f"max_deactivation_ratio = {config.max_deactivation_ratio} allows ({allowed}); "
                "review the dry run and use --force if it is right")
    return None
