"""What a workspace's purpose allows: the one place that decides whether row-level
(pseudonymised) ids may leave the warehouse, for the command line and the dashboard alike.

Under UK GDPR and the national data opt-out, planning and research see aggregates;
only direct care (the individual care of the people in the data) may see a list of the
people it cares for. Every route to ids asks ``require_direct_care`` first.
"""

from __future__ import annotations

from openphm.config import Governance

DIRECT_CARE = "direct_care"


class IdsRefused(PermissionError):
    """Ids were asked for in a workspace whose purpose does not allow them."""


def releases_ids(governance: Governance) -> bool:
    return governance.purpose == DIRECT_CARE


def require_direct_care(governance: Governance, what: str) -> None:
    """Stop unless the workspace's purpose is direct care, saying why and what to change."""
    if not releases_ids(governance):
        raise IdsRefused(
            f"{what} lists pseudonymised people, which is only for direct care; this "
            f"workspace's purpose is {governance.purpose!r} (governance.purpose in "
            "openphm.toml), so only aggregates are shown"
        )
