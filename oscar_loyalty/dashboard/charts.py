"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, works offline.

Each function returns safe SVG markup with a ``<title>`` on every bar, so the
figure under the pointer shows and screen readers can read it.
"""

from django.utils.html import format_html, format_html_join

WIDTH, HEIGHT, GAP = 720, 180, 1


def daily_bars(series: list[dict], names: list[tuple[str, str, str]], label) -> str:
    """Grouped bars per day. ``names`` is (key, legend, colour) for each bar of a day."""
    top = max((row[key] for row in series for key, _l, _c in names), default=0) or 1
    slot = WIDTH / max(len(series), 1)
    bar = max((slot - 2 * GAP) / len(names), 0.5)
    rects = []
    for i, row in enumerate(series):
        for j, (key, legend, colour) in enumerate(names):
            h = HEIGHT * row[key] / top
            rects.append(
                (
                    round(i * slot + GAP + j * bar, 2),
                    round(HEIGHT - h, 2),
                    round(bar, 2),
                    round(h, 2),
                    colour,
                    f"{row['day']:%Y-%m-%d} {legend}: {row[key]}",
                )
            )
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
        rects,
    )
    legend = format_html_join(
        " ",
        '<span class="mr-3"><svg width="10" height="10" aria-hidden="true">'
        '<rect width="10" height="10" fill="{}"/></svg> {}</span>',
        ((colour, legend) for _k, legend, colour in names),
    )
    return format_html(
        '<svg viewBox="0 0 {} {}" width="100%" preserveAspectRatio="none" role="img" '
        'aria-label="{}" class="loyalty-chart" style="max-height:220px">'
        '<line x1="0" y1="{}" x2="{}" y2="{}" stroke="#999"/>{}</svg>'
        '<div class="small">{} <span class="text-muted">(max {})</span></div>',
        WIDTH,
        HEIGHT,
        label,
        HEIGHT,
        WIDTH,
        HEIGHT,
        bars,
        legend,
        top,
    )


def rate_against(value, marks: list[tuple[str, object]], label) -> str:
    """A horizontal bar of ``value`` (0..1) with a tick and a caption for each mark."""
    scale = max([1.0 * float(value or 0)] + [float(m) for _n, m in marks]) * 1.25 or 1
    width = 100 * float(value or 0) / scale
    ticks = format_html_join(
        "",
        '<line x1="{x}" y1="0" x2="{x}" y2="30" stroke="#333" stroke-dasharray="3,2"/>'
        '<text x="{x}" y="44" font-size="11" text-anchor="middle">{name} {pct}</text>',
        (
            {"x": f"{100 * float(m) / scale:.2f}%", "name": name, "pct": f"{100 * float(m):.0f}%"}
            for name, m in marks
        ),
    )
    return format_html(
        '<svg width="100%" height="50" role="img" aria-label="{}" class="loyalty-chart">'
        '<rect x="0" y="4" width="100%" height="22" fill="#eee"/>'
        '<rect x="0" y="4" width="{}%" height="22" fill="#2a7ab0"/>{}</svg>',
        label,
        f"{width:.2f}",
        ticks,
    )
