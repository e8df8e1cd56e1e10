"""Charts as pictures: Altair (Vega-Lite) specs rendered to SVG by vl-convert, offline.

Each chart is embedded as an ``<img>`` whose source is the SVG itself (a data URI),
so the report needs no script, no font and no network, and two charts' internal ids
can never collide. The colours are named here so a test can look for them in a
screenshot.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import altair as alt
import pandas as pd
import vl_convert

# NHS identity colours (NHS England's palette): one meaning each across the report.
NHS_BLUE = "#005EB8"  # the main series; males in the pyramid; improvement in SPC
WARM_YELLOW = "#FFB81C"  # females in the pyramid
ORANGE = "#ED8B00"  # concern: outside the funnel's 99.8% limits, SPC special cause of concern
GREY = "#768692"  # common cause variation; reference lines
DARK_GREY = "#425563"  # limits
FONT = "Arial, Helvetica, sans-serif"
WIDTH = 560

SPC_COLOURS = {
    "common_cause": GREY,
    "special_cause_improvement": NHS_BLUE,
    "special_cause_concern": ORANGE,
    "special_cause_neutral_high": DARK_GREY,
    "special_cause_neutral_low": DARK_GREY,
}


@dataclass(frozen=True)
class Chart:
    """A rendered chart: the SVG, and the text alternative a screen reader reads instead."""

    svg: str
    alt: str

    @property
    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode()).decode()


def render(chart: alt.TopLevelMixin, alt_text: str) -> Chart:
    spec = chart.configure(font=FONT).configure_view(stroke=None).to_dict()
    svg = vl_convert.vegalite_to_svg(spec)
    # The picture carries its own description too, for anyone who saves it.
    title = f"<title>{_escape(alt_text)}</title>"
    svg = re.sub(r"(<svg\b[^>]*>)", lambda m: m.group(1) + title, svg, count=1)
    return Chart(svg, alt_text)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def pyramid(frame: pd.DataFrame, *, age: str, sex: str, value: str, order: list[str]) -> alt.Chart:
    """Age-sex pyramid: males (sex 1) to the left, females (sex 2) to the right."""
    data = frame.assign(
        _signed=frame[value].where(frame[sex] == "2", -frame[value]),
        _sex=frame[sex].map({"1": "Male", "2": "Female"}),
    )
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y(f"{age}:N", sort=list(reversed(order)), title="age band"),
            x=alt.X(
                "_signed:Q",
                title="people (males left, females right)",
                axis=alt.Axis(labelExpr="abs(datum.value)"),
            ),
            color=alt.Color(
                "_sex:N",
                scale=alt.Scale(domain=["Male", "Female"], range=[NHS_BLUE, WARM_YELLOW]),
                title="sex",
            ),
            tooltip=[age, "_sex", value],
        )
        .properties(width=WIDTH, height=max(200, 14 * len(order)))
    )


def bars(frame: pd.DataFrame, *, category: str, value: str, title: str, sort: bool = True):
    """Horizontal bars, one per category (largest first unless ``sort`` is False)."""
    order = "-x" if sort else list(frame[category])
    return (
        alt.Chart(frame)
        .mark_bar(color=NHS_BLUE)
        .encode(
            y=alt.Y(f"{category}:N", sort=order, title=category.replace("_", " ")),
            x=alt.X(f"{value}:Q", title=title),
            tooltip=[category, value],
        )
        .properties(width=WIDTH, height=max(120, 18 * frame[category].nunique()))
    )


def funnel(frame: pd.DataFrame, *, label: str, title: str) -> alt.LayerChart:
    """Funnel plot: each organisation's value against its expected count, with the limits.

    ``frame`` has expected (x), value, lower/upper 95% and 99.8% limits and flag99_8
    (the published funnel's columns); points beyond the 99.8% limits are orange.
    """
    data = frame.assign(
        _outside=frame["flag99_8"].map(
            lambda f: "outside 99.8% limits" if f not in (0, "0", "") else "within limits"
        )
    ).sort_values("expected")
    base = alt.Chart(data).encode(x=alt.X("expected:Q", title="expected count"))
    lines = [
        base.mark_line(color=DARK_GREY, strokeDash=dash, interpolate="monotone").encode(
            y=alt.Y(f"{col}:Q")
        )
        for col, dash in (
            ("lower95_0", [4, 3]),
            ("upper95_0", [4, 3]),
            ("lower99_8", [1, 0]),
            ("upper99_8", [1, 0]),
        )
    ]
    target = alt.Chart(data).mark_rule(color=GREY).encode(y=alt.Y("mean(target):Q"))
    points = base.mark_circle(size=70, opacity=1).encode(
        y=alt.Y("value:Q", title=title),
        color=alt.Color(
            "_outside:N",
            scale=alt.Scale(
                domain=["within limits", "outside 99.8% limits"], range=[NHS_BLUE, ORANGE]
            ),
            title=None,
        ),
        tooltip=[label, "value", "expected"],
    )
    return alt.layer(*lines, target, points).properties(width=WIDTH, height=300)


def spc(frame: pd.DataFrame, *, title: str) -> alt.LayerChart:
    """XmR chart: the monthly values, the mean, the process limits; points coloured by type."""
    base = alt.Chart(frame).encode(x=alt.X("period:O", title="month"))
    line = base.mark_line(color=GREY).encode(y=alt.Y("value:Q", title=title))
    limits = [
        base.mark_line(color=DARK_GREY, strokeDash=dash).encode(y=f"{col}:Q")
        for col, dash in (("mean", [1, 0]), ("lower_limit", [4, 3]), ("upper_limit", [4, 3]))
    ]
    kinds = [k for k in SPC_COLOURS if k in set(frame["point_type"])] or ["common_cause"]
    points = base.mark_circle(size=60, opacity=1).encode(
        y="value:Q",
        color=alt.Color(
            "point_type:N",
            scale=alt.Scale(domain=kinds, range=[SPC_COLOURS[k] for k in kinds]),
            title="variation",
        ),
        tooltip=["period", "value", "point_type"],
    )
    return alt.layer(line, *limits, points).properties(width=WIDTH, height=260)


def line(frame: pd.DataFrame, *, x: str, y: str, series: str | None, title: str) -> alt.Chart:
    enc = dict(x=alt.X(f"{x}:O", title=x.replace("_", " ")), y=alt.Y(f"{y}:Q", title=title))
    if series:
        enc["color"] = alt.Color(f"{series}:N")
    return (
        alt.Chart(frame)
        .mark_line(point=True, color=NHS_BLUE)
        .encode(**enc)
        .properties(width=WIDTH, height=240)
    )


def grouped_bars(
    frame: pd.DataFrame,
    *,
    group: str,
    measure: str,
    value: str,
    facet: str,
    title: str,
    group_title: str | None = None,
) -> alt.Chart:
    """Bars side by side per group (one per measure), a panel per ``facet`` value."""
    measures = list(dict.fromkeys(frame[measure]))
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(f"{group}:N", title=group_title or group.replace("_", " "), sort=None),
            xOffset=alt.XOffset(f"{measure}:N", sort=measures),
            y=alt.Y(f"{value}:Q", title=title),
            color=alt.Color(
                f"{measure}:N",
                scale=alt.Scale(
                    domain=measures, range=[NHS_BLUE, WARM_YELLOW, GREY][: len(measures)]
                ),
                title=None,
            ),
            tooltip=[facet, group, measure, value],
        )
        .properties(width=WIDTH // 2 - 20, height=220)
        .facet(column=alt.Column(f"{facet}:N", title=None))
    )
