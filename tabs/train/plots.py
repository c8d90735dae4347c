"""The Train tab's pictures, drawn on the server as plain SVG and PNG: line charts that mark every
point of a short series (a one-epoch run's held-out figure is one point, which a line alone does not
draw), a bar chart, and the GAN's sample grid annotated with the discriminator's scores.

SVG rather than Gradio's plots: each chart is one string in the visitor's language (title, axes,
legend), with a text alternative for screen readers, and no colour domain to keep in step while
series appear. Text uses `currentColor`, so the theme's light and dark modes both read.
"""
import html
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 640, 270
LEFT, RIGHT, TOP, BOTTOM = 72, 14, 12, 50
# On a phone the chart is shrunk to about half: its text is set larger there, in the chart's own
# units, so it still reads at about 11 px.
STYLE = ("<style>.train-chart svg text{font-size:12px}"
         "@media (max-width:600px){.train-chart svg text{font-size:22px}}</style>")
MARKED_UP_TO = 40  # a series with at most this many points also shows each point as a dot
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")


def ramp(count: int, start: str = "#1f4e9c", end: str = "#f28e2b") -> list[str]:
    """`count` colours from `start` to `end`, evenly: lines in an order (input side to output side)."""
    a, b = (np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)], float) for c in (start, end))
    steps = [a + (b - a) * (i / max(1, count - 1)) for i in range(count)]
    return ["#" + "".join(f"{round(v):02x}" for v in colour) for colour in steps]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e5 else f"{value:.0e}"


def _decades(low: float, high: float) -> list[float]:
    """Whole powers of ten (as exponents) covering [low, high], at most six of them."""
    first, last = math.floor(low), max(math.ceil(high), math.floor(low) + 1)
    step = -(-(last - first) // 5)
    return [float(e) for e in range(first, last + step, step)]


def line_chart(series: list[dict], title: str, x_title: str, y_title: str, empty: str,
               y_lim: tuple[float, float] | None = None, chart_id: str = "chart", log_y: bool = False,
               nested_dots: bool = True) -> str:
    """An SVG line chart in a <figure>. `series`: dicts with `name`, `colour`, `points` [(x, y)],
    optional `dashed`. The legend is HTML, so it wraps on a phone. `log_y`: a logarithmic y axis
    (values spanning decades, as gradient norms do; values <= 0 are left out). `nested_dots`: earlier
    series' dots drawn larger, for a few series that may share points (not for many lines apart)."""
    if log_y:
        series = [{**s, "points": [(x, math.log10(y)) for x, y in s["points"] if math.isfinite(y) and y > 0]} for s in series]
    unlog = (lambda y: 10 ** y) if log_y else (lambda y: y)  # a value as it was, for the labels and the summary
    drawn = [s for s in series if s["points"]]
    xs = [x for s in drawn for x, _ in s["points"]]
    ys = [y for s in drawn for _, y in s["points"] if math.isfinite(y)]
    x_low, x_high = (min(xs), max(xs)) if xs else (0, 1)
    if x_high == x_low:
        x_low, x_high = x_low - 1, x_high + 1
    x_pad = (x_high - x_low) * 0.02  # so a point at either end shows whole
    x_low, x_high = x_low - x_pad, x_high + x_pad
    if y_lim:
        y_low, y_high = y_lim
    elif ys:
        y_low, y_high = min(ys), max(ys)
        pad = (y_high - y_low) * 0.05 or 0.5
        y_low, y_high = y_low - pad, y_high + pad
    else:
        y_low, y_high = (-3, 0) if log_y else (0, 1)  # log: 0.001 to 1
    x_ticks = [t for t in nice_ticks(x_low, x_high, 6) if x_low <= t <= x_high] or [x_low]
    y_ticks = _decades(y_low, y_high) if log_y else nice_ticks(y_low, y_high, 4)
    y_low, y_high = min(y_low, y_ticks[0]), max(y_high, y_ticks[-1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x):
        return LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def py(y):
        y = min(max(y, y_low), y_high)
        return TOP + (1 - (y - y_low) / (y_high - y_low)) * plot_h

    parts = ['<g class="axes" stroke="currentColor" stroke-opacity="0.18">']
    for t in y_ticks:
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py(t):.1f}" y2="{py(t):.1f}"/>')
    parts.append("</g><g fill=\"currentColor\">")
    for t in y_ticks:
        parts.append(f'<text x="{LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{_label(unlog(t))}</text>')
    for t in x_ticks:
        parts.append(f'<text x="{px(t):.1f}" y="{HEIGHT - BOTTOM + 24}" text-anchor="middle">{_label(t)}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle">{html.escape(x_title)}</text>')
    parts.append(f'<text transform="translate(18 {TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
                 f'{html.escape(y_title)}</text></g>')
    for index, s in enumerate(drawn):
        points = [(px(x), py(y)) for x, y in s["points"] if math.isfinite(y)]
        dash = ' stroke-dasharray="6 4"' if s.get("dashed") else ""
        path = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<g class="mark-line"><path d="{path}" fill="none" stroke="{s["colour"]}" stroke-width="2"{dash}>'
                     f'<title>{html.escape(s["name"])}</title></path></g>')
        if len(points) <= MARKED_UP_TO:
            # Earlier series' dots a little larger, so two runs at the same point both show.
            r = 3.5 + 1.5 * (len(drawn) - 1 - index) if nested_dots else 3
            parts.append(f'<g class="mark-point" fill="{s["colour"]}">'
                         + "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:g}"/>' for x, y in points) + "</g>")
    if not drawn:
        parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
                     f'fill="currentColor" font-size="13">{html.escape(empty)}</text>')
    summary = "; ".join(f"{s['name']}: {_last(unlog(s['points'][-1][1]))}" for s in drawn) or empty
    dashes = ' stroke-dasharray="4 3"'
    legend = "".join(
        f'<li style="display:inline-flex;align-items:center;gap:4px;margin-right:12px">'
        f'<svg width="18" height="10" aria-hidden="true"><line x1="0" x2="18" y1="5" y2="5" stroke="{s["colour"]}" '
        f'stroke-width="3"{dashes if s.get("dashed") else ""}/></svg>{html.escape(s["name"])}</li>'
        for s in series)
    title_id = f"{chart_id}-title"
    return (f'<figure class="train-chart" id="{chart_id}" style="margin:0">'
            f'<figcaption id="{title_id}" style="font-weight:600;margin-bottom:4px">{html.escape(title)}</figcaption>'
            f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-labelledby="{title_id}" '
            f'style="max-width:{WIDTH}px;height:auto;display:block">'
            f'<title>{html.escape(title)}: {html.escape(summary)}</title>{STYLE}{"".join(parts)}</svg>'
            f'<ul style="list-style:none;padding:0;margin:4px 0 0;font-size:0.9em">{legend}</ul></figure>')


def _last(value: float) -> str:
    """A series' last value for the text alternative: three decimals, or three figures when smaller."""
    return _label(round(value, 3)) if abs(value) >= 0.01 or value == 0 else f"{value:.3g}"


def bar_chart(labels: list[str], values: list[float], title: str, x_title: str, y_title: str,
              y_max: float, colour: str = "#1f77b4", chart_id: str = "bars", width: int = 400) -> str:
    """Vertical bars with their values written on top (for the CNN's reading of the samples); a
    narrower drawing than the line charts, as it sits beside the sample grid."""
    plot_w, plot_h = width - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    parts = ['<g fill="currentColor">']
    for i, (label, value) in enumerate(zip(labels, values)):
        height = min(1.0, value / y_max) * plot_h if y_max else 0
        x = LEFT + i * slot
        parts.append(f'<rect x="{x + slot * 0.15:.1f}" y="{TOP + plot_h - height:.1f}" width="{slot * 0.7:.1f}" '
                     f'height="{height:.1f}" fill="{colour}"/>')
        parts.append(f'<text x="{x + slot / 2:.1f}" y="{TOP + plot_h - height - 3:.1f}" text-anchor="middle">{_label(value)}</text>')
        parts.append(f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 24}" text-anchor="middle">{html.escape(label)}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle">{html.escape(x_title)}</text>')
    parts.append(f'<text transform="translate(18 {TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">{html.escape(y_title)}</text>')
    parts.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="currentColor"/></g>')
    summary = ", ".join(f"{label}: {_label(value)}" for label, value in zip(labels, values))
    title_id = f"{chart_id}-title"
    return (f'<figure class="train-chart" id="{chart_id}" style="margin:0">'
            f'<figcaption id="{title_id}" style="font-weight:600;margin-bottom:4px">{html.escape(title)}</figcaption>'
            f'<svg viewBox="0 0 {width} {HEIGHT}" width="100%" role="img" aria-labelledby="{title_id}" '
            f'style="max-width:{width}px;height:auto;display:block"><title>{html.escape(title)}: {html.escape(summary)}</title>'
            f'{STYLE}{"".join(parts)}</svg></figure>')


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def sample_grid(samples: np.ndarray, scores: np.ndarray | None = None, columns: int = 10, scale: int = 3,
                gap: int = 6, score_format: str = "{:.2f}") -> np.ndarray:
    """The fixed-latent samples [N,28,28] in [0,1] as one uint8 image, `columns` a row (for the
    conditional GAN: a row per digit asked for), enlarged so the browser does not blur it; with
    `scores`, each sample's discriminator score written under it."""
    samples = np.clip(np.asarray(samples, dtype=np.float32), 0, 1)
    rows = -(-len(samples) // columns)
    side = 28 * scale
    caption = 16 if scores is not None else 0
    cell_w, cell_h = side + gap, side + caption + gap
    grid = Image.new("L", (columns * cell_w - gap, rows * cell_h - gap), 40)  # dark grey gaps
    draw, font = ImageDraw.Draw(grid), _font(13)
    for index, image in enumerate(samples):
        r, c = divmod(index, columns)
        tile = Image.fromarray(np.round(image * 255).astype(np.uint8)).resize((side, side), Image.NEAREST)
        grid.paste(tile, (c * cell_w, r * cell_h))
        if scores is not None and index < len(scores):
            text = score_format.format(float(scores[index]))
            draw.text((c * cell_w + side / 2, r * cell_h + side + caption / 2), text, fill=235, font=font, anchor="mm")
    return np.asarray(grid)
