"""The class board as a teacher reads it, on a projector or a phone: a table of the class's runs that
sorts and groups by any knob, and one chart that overlays the runs' curves coloured by the knob the
lesson is about. Plain functions of the board's data (classroom/board.py) and the visitor's
language; every visitor-written text (nicknames, knob values) is escaped here."""
import html
import math
import time

import locales
from tabs.train import plots as train_plots

WIDTH, HEIGHT = 640, 300
SHOWN_WIDTH = 960  # drawn half as large again where there is room: its words stay legible from a projector's back row
LEFT, RIGHT, TOP, BOTTOM = 56, 14, 12, 44
COLUMNS = ("entry", "nickname", "figure", "kind", "seconds", "finished")  # the figure in sight on a phone, before it scrolls
FIGURE_CURVES = ("held_out_accuracy", "label_fidelity")
STYLE = ("<style>.class-board{overflow-x:auto;max-width:100%}.class-board table{border-collapse:collapse;font-size:0.95em}"
         ".class-board th,.class-board td{padding:4px 8px;border-bottom:1px solid var(--border-color-primary);text-align:left;"
         "white-space:nowrap}.class-board tr.group th{background:var(--background-fill-secondary)}"
         ".class-chart svg text{font-size:12px}@media (max-width:600px){.class-chart svg text{font-size:22px}}</style>")


def knob_names(data: dict) -> list[str]:
    """The knobs the class's runs were trained with, in a stable order."""
    return sorted({name for run in data.get("runs", ()) for name in run["settings"]})


def knob_label(name: str, lang: str) -> str:
    """A knob as the Train tab names it in the visitor's language; its link key where it has no
    label there."""
    from tabs.link import LABELS  # imports Gradio: only once a board is shown

    return locales.text(LABELS[name], lang) if name in LABELS else name


def _shown(value, lang: str | None = None) -> str:
    if isinstance(value, bool):
        return locales.text(f"train.augment.{'on' if value else 'off'}", lang) if lang else ("on" if value else "off")
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


def _value(run: dict, column: str):
    if column == "entry":
        return run["id"]
    if column in ("nickname", "kind", "figure", "seconds", "finished"):
        return run[column]
    return run["settings"].get(column)


def _order(value):
    """Numbers before words, numbers by size, words alphabetically; the empty last."""
    if value is None:
        return (2, 0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, _shown(value).casefold())


def _figure(value) -> str:
    return "" if value is None else f"{value:.1%}"


def _cell(run: dict, column: str, lang: str | None = None) -> str:
    value = _value(run, column)
    if column == "figure":
        return _figure(value)
    if column == "seconds":
        return "" if value is None else f"{value:.0f}"
    if column == "finished":
        return time.strftime("%H:%M", time.localtime(value))
    return html.escape(_shown(value, lang))


def table(data: dict, lang: str, sort: str = "figure", group: str = "") -> str:
    """The runs as an HTML table, sorted by `sort` (the figure: best first), in groups of one
    value of `group` each (with the group's mean figure), or one list when `group` is ""."""
    runs = data.get("runs", [])
    if not runs:
        return locales.text("board.empty", lang)
    knobs = knob_names(data)
    columns = list(COLUMNS) + knobs
    heads = [locales.text(f"board.column.{c}", lang) if c in COLUMNS else knob_label(c, lang) for c in columns]
    best_first = sort in ("figure", "finished")
    ordered = sorted(runs, key=lambda r: _order(_value(r, sort)), reverse=best_first)
    if best_first:  # reverse put the runs without a figure first; they belong last
        ordered = [r for r in ordered if _value(r, sort) is not None] + [r for r in ordered if _value(r, sort) is None]
    groups = {}
    for run in ordered:
        groups.setdefault(_shown(_value(run, group)) if group else "", []).append(run)
    rows = []
    for value, members in sorted(groups.items(), key=lambda item: _order(_value(item[1][0], group)) if group else 0):
        if group:
            figures = [r["figure"] for r in members if r["figure"] is not None]
            mean = _figure(sum(figures) / len(figures)) if figures else "–"
            shown = _shown(_value(members[0], group), lang)
            said = locales.text("board.group.mean", lang, value=f"{knob_label(group, lang)} = {shown}", count=len(members), mean=mean)
            rows.append(f'<tr class="group"><th colspan="{len(columns)}">{html.escape(said)}</th></tr>')
        rows += ["<tr>" + "".join(f"<td>{_cell(run, c, lang)}</td>" for c in columns) + "</tr>" for run in members]
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in heads)
    return f'{STYLE}<div class="class-board"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def chart(data: dict, lang: str, colour_by: str = "") -> str:
    """Every run's held-out figure against its steps, one line a run, coloured by its value of
    `colour_by` (all Sigmoid runs one colour, all ReLU runs another), the legend one entry a value."""
    title = locales.text("board.chart", lang)
    lines = []
    for run in data.get("runs", []):
        points = next((run["curves"][k] for k in FIGURE_CURVES if run["curves"].get(k)), [])
        if points:
            lines.append((_shown(run["settings"].get(colour_by), lang) if colour_by else "", run["nickname"], points))
    values = sorted({value for value, _, _ in lines}, key=lambda v: _order(v))
    colours = {v: train_plots.PALETTE[i % len(train_plots.PALETTE)] for i, v in enumerate(values)}
    xs = [x for _, _, points in lines for x, _ in points] or [0, 1]
    x_low, x_high = min(xs), max(max(xs), min(xs) + 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x):
        return LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def py(y):
        return TOP + (1 - min(max(y, 0.0), 1.0)) * plot_h

    parts = ['<g stroke="currentColor" stroke-opacity="0.18">']
    parts += [f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py(t):.1f}" y2="{py(t):.1f}"/>' for t in (0, 0.25, 0.5, 0.75, 1)]
    parts.append('</g><g fill="currentColor">')
    parts += [f'<text x="{LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{t:.0%}</text>' for t in (0, 0.25, 0.5, 0.75, 1)]
    parts += [f'<text x="{px(t):.1f}" y="{HEIGHT - BOTTOM + 20}" text-anchor="middle">{t:g}</text>'
              for t in train_plots.nice_ticks(x_low, x_high, 5) if x_low <= t <= x_high]
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle">'
                 f'{html.escape(locales.text("board.chart.step", lang))}</text></g>')
    for value, nickname, points in lines:
        path = "M" + " L".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points if math.isfinite(y))
        parts.append(f'<path d="{path}" fill="none" stroke="{colours[value]}" stroke-width="2" stroke-opacity="0.8">'
                     f'<title>{html.escape(nickname)}{": " + html.escape(value) if value else ""}</title></path>')
        if len(points) <= 20:
            parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colours[value]}"/>' for x, y in points if math.isfinite(y)]
    if not lines:
        parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" fill="currentColor">'
                     f'{html.escape(locales.text("board.empty", lang))}</text>')
    legend = "".join(f'<li style="display:inline-flex;align-items:center;gap:4px;margin-right:12px"><svg width="18" height="10" '
                     f'aria-hidden="true"><line x1="0" x2="18" y1="5" y2="5" stroke="{colours[v]}" stroke-width="3"/></svg>'
                     f'{html.escape(f"{knob_label(colour_by, lang)} = {v}")} ({sum(1 for value, _, _ in lines if value == v)})</li>'
                     for v in values if colour_by)
    summary = html.escape(f"{title}: {len(lines)}")
    return (f'{STYLE}<figure class="class-chart" id="class-chart-figure" style="margin:0"><figcaption style="font-weight:600">'
            f'{html.escape(title)}</figcaption><svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
            f'style="max-width:{SHOWN_WIDTH}px;height:auto;display:block"><title>{summary}</title>{"".join(parts)}</svg>'
            f'<ul style="list-style:none;padding:0;margin:4px 0 0">{legend}</ul></figure>')


def summary(data: dict, lang: str) -> str:
    state = locales.text("board.state.open" if data["open"] else "board.state.closed", lang)
    said = locales.text("board.summary", lang, code=data["code"], students=len(data["students"]), runs=len(data["runs"]), state=state)
    return said if data["shown"] else said + "\n\n" + locales.text("board.hidden", lang)
