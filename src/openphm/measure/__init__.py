"""Measure: denominators and indicators."""

#: The synthetic ICS's sources the indicators read (the rest only slow a measure-only
#: workspace down): people, registrations, hospital activity, opt-outs and reference data.
INDICATOR_SOURCES = frozenset(
    {
        "gp_patients",
        "gp_registrations",
        "hes_apc",
        "hes_op",
        "ecds",
        "opt_outs",
        "organisations",
        "lsoas",
    }
)
