"""openphm: open population health management and patient-level costing for the NHS."""

__version__ = "0.1.0"
