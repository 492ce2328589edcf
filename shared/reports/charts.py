"""Reports as charts (PNG and SVG), drawn like the 1C claims module draws them: dynamics as bars
with a line, satisfaction as 100% stacked bars per reason, structure as sorted bars.

Figures are built with matplotlib's object API on the Agg canvas (no pyplot state), in DejaVu Sans,
which ships with matplotlib and has Cyrillic glyphs. rcParams are global, so rendering holds a lock:
the back-office renders in worker threads.
"""

from __future__ import annotations

import io
import textwrap
import threading
from collections.abc import Callable
from datetime import date
from typing import Any

import matplotlib
from babel.dates import format_date
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from shared.i18n import Translator
from shared.reports.common import ReportBody
from shared.reports.dynamics import DynamicsReport
from shared.reports.formats import group_label, report_name
from shared.reports.ratings import RatingsReport
from shared.reports.response_times import ResponseTimesReport
from shared.reports.satisfaction import SatisfactionReport
from shared.reports.structure import StructureReport

FONT = "DejaVu Sans"
PNG_TYPE = "image/png"
SVG_TYPE = "image/svg+xml"
COLORS = {
    "registered": "#1f4e79",
    "resolved": "#4caf50",
    "unresolved": "#e57373",
    "satisfied": "#4caf50",
    "partially_satisfied": "#ffb74d",
    "rejected": "#e57373",
}
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
RC = {
    "font.family": FONT,
    "font.size": 10,
    "axes.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",  # SVG keeps real text: searchable, selectable, small
}
_lock = threading.Lock()


def _wrap(label: str, width: int = 28) -> str:
    return "\n".join(textwrap.wrap(label, width)) or label


def _period_label(day: date, granularity: str, language: str) -> str:
    if granularity == "month":
        return format_date(day, "LLL yyyy", locale=language)
    return format_date(day, "d MMM yyyy" if granularity == "week" else "d MMM", locale=language)


def _title(report: ReportBody, t: Translator, extra: str = "") -> str:
    span = t(
        "reports.range",
        date_from=format_date(report.date_from, "d MMM yyyy", locale=t.language),
        date_to=format_date(report.date_to, "d MMM yyyy", locale=t.language),
    )
    head = t(f"reports.title.{report_name(report)}")
    return f"{head}{extra}\n{span}"


def _no_data(ax, t: Translator) -> None:
    ax.text(0.5, 0.5, t("reports.chart.no_data"), ha="center", va="center", fontsize=12, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _dynamics(fig: Figure, report: DynamicsReport, t: Translator) -> None:
    ax = fig.add_subplot()
    extra = f", {t(f'reports.granularity.{report.granularity}')}"
    ax.set_title(_title(report, t, extra))
    periods = list(dict.fromkeys(r.period for r in report.rows))
    labels = [_period_label(p, report.granularity, t.language) for p in periods]
    xs = list(range(len(periods)))
    totals = {p: 0 for p in periods}
    for r in report.rows:
        totals[r.period] += r.registered
    if report.by == "none":
        width = 0.38
        resolved = [r.resolved for r in report.rows]
        unresolved = [r.unresolved for r in report.rows]
        ax.bar([x - width / 2 for x in xs], resolved, width, label=t("reports.col.resolved"), color=COLORS["resolved"])
        ax.bar(
            [x + width / 2 for x in xs],
            unresolved,
            width,
            label=t("reports.col.unresolved"),
            color=COLORS["unresolved"],
        )
    else:
        groups = list(dict.fromkeys(getattr(r, report.by) for r in report.rows))
        bottom = [0] * len(periods)
        index = {p: i for i, p in enumerate(periods)}
        for n, group in enumerate(groups):
            heights = [0] * len(periods)
            for r in report.rows:
                if getattr(r, report.by) == group:
                    heights[index[r.period]] = r.registered
            ax.bar(
                xs, heights, 0.6, bottom=bottom, label=_wrap(group_label(group, t), 30), color=PALETTE[n % len(PALETTE)]
            )
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.plot(
        xs,
        [totals[p] for p in periods],
        marker="o",
        color=COLORS["registered"],
        linewidth=2,
        label=t("reports.col.registered"),
    )
    ax.set_xticks(xs, labels, rotation=45 if len(xs) > 6 else 0, ha="right" if len(xs) > 6 else "center")
    if len(xs) > 40:  # daily over months: every label would overlap
        step = len(xs) // 20 + 1
        for i, tick in enumerate(ax.get_xticklabels()):
            tick.set_visible(i % step == 0)
    ax.set_xlabel(t("reports.axis.period"))
    ax.set_ylabel(t("reports.axis.claims"))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9)


def _satisfaction(fig: Figure, report: SatisfactionReport, t: Translator) -> None:
    ax = fig.add_subplot()
    ax.set_title(_title(report, t))
    if not report.rows:
        _no_data(ax, t)
        return
    rows = [*report.rows, report.total]
    labels = [_wrap(group_label(r.reason, t)) for r in report.rows] + [t("reports.total")]
    ys = list(range(len(rows)))[::-1]  # the largest reason on top, the total at the bottom
    left = [0.0] * len(rows)
    for key in ("satisfied", "partially_satisfied", "rejected"):
        shares = [getattr(r, f"{key}_pct") for r in rows]
        bars = ax.barh(ys, shares, 0.6, left=left, label=t(f"reports.col.{key}"), color=COLORS[key])
        for bar, share in zip(bars, shares, strict=True):
            if share >= 6:
                ax.text(
                    bar.get_x() + bar.get_width() / 2,
                    bar.get_y() + bar.get_height() / 2,
                    f"{share:.1f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                )
        left = [a + b for a, b in zip(left, shares, strict=True)]
    ax.set_yticks(ys, labels)
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(PercentFormatter(100))
    ax.set_xlabel(t("reports.axis.share"))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)


def _sorted_bars(ax, items: list[tuple[str, float]], xlabel: str, fmt: str = "{:g}") -> None:
    items = items[:15]
    ys = list(range(len(items)))[::-1]
    bars = ax.barh(ys, [v for _, v in items], 0.6, color=COLORS["registered"])
    for bar, (_, value) in zip(bars, items, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + fmt.format(value), va="center", fontsize=8)
    ax.set_yticks(ys, [_wrap(label, 24) for label, _ in items])
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if all(isinstance(v, int) for _, v in items):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _structure(fig: Figure, report: StructureReport, t: Translator) -> None:
    fig.suptitle(_title(report, t), fontsize=13)
    if not report.total:
        _no_data(fig.add_subplot(), t)
        return
    left, right = fig.subplots(1, 2)
    left.set_title(t("reports.sheet.by_department"))
    _sorted_bars(
        left, [(group_label(r.department, t), r.count) for r in report.by_department], t("reports.axis.claims")
    )
    right.set_title(t("reports.sheet.by_reason"))
    _sorted_bars(right, [(group_label(r.reason, t), r.count) for r in report.by_reason], t("reports.axis.claims"))


def _response_times(fig: Figure, report: ResponseTimesReport, t: Translator) -> None:
    ax = fig.add_subplot()
    ax.set_title(_title(report, t))
    rows = report.rows[:15]
    if not rows:
        _no_data(ax, t)
        return
    ys = list(range(len(rows)))[::-1]
    series = (
        ("first_response_median_h", "reports.chart.first_response_median", "#90caf9"),
        ("resolution_median_h", "reports.chart.resolution_median", "#1f4e79"),
        ("resolution_p90_h", "reports.chart.resolution_p90", "#e57373"),
    )
    height = 0.26
    for n, (key, label, color) in enumerate(series):
        values = [getattr(r, key) or 0 for r in rows]
        ax.barh([y + (1 - n) * height for y in ys], values, height, label=t(label), color=color)
    ax.axvline(report.sla_hours.resolution, color="#555555", linestyle="--", linewidth=1)
    ax.set_yticks(ys, [_wrap(group_label(getattr(r, report.by), t), 24) for r in rows])
    ax.set_xlabel(t("reports.axis.hours"))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)


def _ratings(fig: Figure, report: RatingsReport, t: Translator) -> None:
    ax = fig.add_subplot()
    ax.set_title(_title(report, t))
    rows = [r for r in report.rows if r.average is not None]
    if not rows:
        _no_data(ax, t)
        return
    rows.sort(key=lambda r: -(r.average or 0))
    _sorted_bars(
        ax, [(group_label(getattr(r, report.by), t), r.average or 0) for r in rows], t("reports.axis.rating"), "{:.2f}"
    )
    ax.set_xlim(0, 5.5)


DRAW: dict[type[ReportBody], Callable[[Figure, Any, Translator], None]] = {
    DynamicsReport: _dynamics,
    SatisfactionReport: _satisfaction,
    StructureReport: _structure,
    ResponseTimesReport: _response_times,
    RatingsReport: _ratings,
}


def render_chart(report: ReportBody, t: Translator, fmt: str) -> bytes:
    """The report's chart as PNG or SVG bytes, in the translator's language."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"unsupported chart format {fmt!r}")
    with _lock, matplotlib.rc_context(RC):
        fig = Figure(figsize=(11, 6), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        DRAW[type(report)](fig, report, t)
        out = io.BytesIO()
        fig.savefig(out, format=fmt, metadata={"Title": t(f"reports.title.{report_name(report)}")})
        return out.getvalue()
