"""The [sources] entries for a folder laid out as ``openphm synth`` writes it.

An ICS's own deliveries are configured by hand in openphm.toml; the demo and the
tests point a workspace at a synthetic ICS with this.
"""

from __future__ import annotations

from pathlib import Path

# (source name, file under the synth folder, layout)
SYNTH_FILES = (
    ("gp_patients", "extracts/gp_patients.csv", "gp_patients"),
    ("gp_registrations", "extracts/gp_registrations.csv", "gp_registrations"),
    ("gp_events", "extracts/gp_events.csv", "gp_events"),
    ("hes_apc", "extracts/hes_apc.csv", "hes_apc"),
    ("hes_op", "extracts/hes_op.csv", "hes_op"),
    ("ecds", "extracts/ecds.csv", "ecds"),
    ("community_contacts", "extracts/community_contacts.csv", "community_contacts"),
    ("mental_health_contacts", "extracts/mental_health_contacts.csv", "mental_health_contacts"),
    ("ambulance_incidents", "extracts/ambulance_incidents.csv", "ambulance_incidents"),
    ("social_care_services", "extracts/social_care_services.csv", "social_care_services"),
    ("opt_outs", "extracts/opt_outs.csv", "opt_outs"),
    ("ledger", "costing/ledger.csv", "costing_ledger"),
    ("overhead_bases", "costing/overhead_bases.csv", "overhead_bases"),
    ("organisations", "reference/organisation.csv", "organisations"),
    ("lsoas", "reference/lsoa.csv", "lsoas"),
)


def synth_sources(root: Path, synth_dir: Path) -> str:
    """TOML [sources.*] tables for a synthetic ICS; paths relative to ``root`` when inside it."""
    entries = list(SYNTH_FILES)
    entries += [
        (p.stem, f"costing/{p.name}", "costing_feed")
        for p in sorted((synth_dir / "costing").glob("feed_*.csv"))
    ]
    lines = []
    for name, relative, layout in entries:
        path = synth_dir / relative
        if not path.exists():
            continue
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        lines.append(f'[sources.{name}]\npath = "{shown.as_posix()}"\nlayout = "{layout}"\n')
    return "\n".join(lines)
