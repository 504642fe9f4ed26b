"""A small server-rendered SVG bar chart: how many addresses 2, 3 and 4+ contacts share.

Plain SVG text, no library and no script: it works offline, prints, and the live preview can
swap it in as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import Markup, escape

from service.words import format_decimal, gettext, lazy_gettext

BUCKETS = (("2", lazy_gettext("2 contacts")), ("3", lazy_gettext("3 contacts")),
           ("4+", lazy_gettext("4 or more")))
WIDTH, BAR_HEIGHT, GAP, LABEL_WIDTH, COUNT_WIDTH = 360, 22, 10, 90, 60


def shared_chart_svg(shared: Mapping[str, int]) -> Markup:
    """A horizontal bar per bucket, its length in proportion to the largest bucket."""
    counts = [int(shared.get(key, 0)) for key, _ in BUCKETS]
    largest = max(counts) or 1  # all zero: no bars, but the chart keeps its shape
    room = WIDTH - LABEL_WIDTH - COUNT_WIDTH
    height = len(BUCKETS) * (BAR_HEIGHT + GAP) + GAP
    buckets = list(zip(counts, BUCKETS, strict=True))
    summary = ", ".join(gettext("%(count)s shared by %(contacts)s", count=format_decimal(count),
                                contacts=label)
                        for count, (_, label) in buckets)
    parts = [f'<svg class="shared-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
             f'width="{WIDTH}" height="{height}" role="img" aria-labelledby="shared-chart-title">',
             f'<title id="shared-chart-title">{escape(gettext("Addresses shared by several contacts"))}: '
             f'{escape(summary)}</title>']
    for i, (count, (key, label)) in enumerate(buckets):
        y = GAP + i * (BAR_HEIGHT + GAP)
        length = round(room * count / largest)
        middle = y + BAR_HEIGHT / 2
        parts.append(f'<g data-bucket="{escape(key)}" data-count="{count}">'
                     f'<text x="0" y="{middle}" dominant-baseline="middle" class="chart-label">'
                     f'{escape(label)}</text>'
                     f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}" rx="3" '
                     'class="chart-bar"/>'
                     f'<text x="{LABEL_WIDTH + length + 6}" y="{middle}" dominant-baseline="middle" '
                     f'class="chart-count">{format_decimal(count)}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))
