"""The one error the cost stage raises for inputs it cannot cost."""

from __future__ import annotations


class CostError(ValueError):
    """Ledger, bases or feeds that cannot be costed; names the provider, year and pool.

    Messages name organisations, cost centres and rules, never a patient or a record.
    """
