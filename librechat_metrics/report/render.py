"""The report's formats: text (100 columns), markdown, html (one self-contained file), json, csv.

Every format shows the same data (build.build); json and csv keep the exact numbers, the others
round them for people.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable
from typing import Any

WIDTH = 100  # text fits a terminal this wide
FORMATS = ("text", "markdown", "html", "json", "csv")

Column = tuple[str, str, str]  # (key, title, kind: text, int, tokens, usd, seconds, share)

TOTALS: list[Column] = [
    ("messages", "Messages", "int"),
    ("conversations", "Conversations started", "int"),
    ("replies", "Replies", "int"),
    ("error_replies", "Error replies", "int"),
    ("error_share", "Error share of replies", "share"),
    ("error_messages", "Error messages (all)", "int"),
    ("unfinished_replies", "Unfinished replies", "int"),
    ("input_tokens", "Input tokens", "tokens"),
    ("output_tokens", "Output tokens", "tokens"),
    ("cache_read_tokens", "Cache read tokens", "tokens"),
    ("cache_write_tokens", "Cache write tokens", "tokens"),
    ("spend_usd", "Spend USD", "usd"),
    ("active_users", "Active users", "int"),
    ("new_users", "New users", "int"),
    ("returning_users", "Returning users", "int"),
]
SECTIONS: dict[str, tuple[str, list[Column]]] = {
    "models": (
        "Per model",
        [
            ("model", "Model", "text"),
            ("replies", "Replies", "int"),
            ("errors", "Errors", "int"),
            ("input_tokens", "Input", "tokens"),
            ("output_tokens", "Output", "tokens"),
            ("cache_read_tokens", "Cache rd", "tokens"),
            ("cache_write_tokens", "Cache wr", "tokens"),
            ("spend_usd", "USD", "usd"),
            ("p50_seconds", "p50 s", "seconds"),
            ("p90_seconds", "p90 s", "seconds"),
        ],
    ),
    "agents": (
        "Per agent",
        [
            ("agent_id", "Agent", "text"),
            ("name", "Name", "text"),
            ("model", "Model", "text"),
            ("replies", "Replies", "int"),
            ("errors", "Errors", "int"),
            ("users", "Users", "int"),
            ("conversations", "Chats", "int"),
            ("spend_usd", "USD", "usd"),
        ],
    ),
    "endpoints": (
        "Per endpoint",
        [("endpoint", "Endpoint", "text"), ("replies", "Replies", "int"), ("errors", "Errors", "int")],
    ),
    "groups": (
        "Per group",
        [
            ("group", "Group", "text"),
            ("members", "Members", "int"),
            ("active_users", "Active", "int"),
            ("input_tokens", "Input", "tokens"),
            ("output_tokens", "Output", "tokens"),
            ("spend_usd", "USD", "usd"),
        ],
    ),
    "tools": (
        "Per tool",
        [("tool", "Tool", "text"), ("calls", "Calls", "int"), ("failures", "Failed", "int")],
    ),
    "top_users": (
        "Top users",
        [
            ("user", "User", "text"),
            ("email", "E-mail", "text"),
            ("name", "Name", "text"),
            ("messages", "Sent", "int"),
            ("input_tokens", "Input", "tokens"),
            ("output_tokens", "Output", "tokens"),
            ("spend_usd", "USD", "usd"),
        ],
    ),
}


def render(report: dict[str, Any], fmt: str) -> str:
    """The report as one string in `fmt` (one of FORMATS), ending with a newline."""
    return {"text": text, "markdown": markdown, "html": page, "json": as_json, "csv": as_csv}[fmt](report)


# --- cells -----------------------------------------------------------------------------------------


def cell(value: Any, kind: str, short: bool = False) -> str:
    """A value for people; `short` (text) writes large token counts as 1.2M."""
    if value is None:
        return "-"
    if kind == "text":
        return str(value)
    if kind == "share":
        return f"{100 * value:.1f}%"
    if kind == "seconds":
        return f"{value:.1f}"
    if kind == "usd":
        return f"{value:,.2f}" if value >= 1 or value == 0 else f"{value:.4f}"
    if short and kind == "tokens" and abs(value) >= 100_000:
        for size, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= size:
                return f"{value / size:.1f}{unit}"
    return f"{value:,.0f}" if isinstance(value, float) else f"{value:,}"


def heading(report: dict[str, Any]) -> tuple[str, str]:
    """Title and the line that says what the range is (partial, zone, tenant, token source)."""
    r = report["range"]
    title = f"LibreChat report {r['start']} to {r['end']}"
    parts = [f"{r['days']} days in {r['timezone']}", f"tokens from {r['token_source']}"]
    if r["tenant"]:
        parts.append(f"tenant {r['tenant']}")
    if r["partial"]:
        parts.append(f"PARTIAL: the last day is not over, counted until {r['to_utc']}")
    return title, "; ".join(parts)


def sections(report: dict[str, Any]) -> list[tuple[str, str, list[Column], list[dict[str, Any]]]]:
    """(key, title, columns, rows) of the report's tables, in order."""
    return [(key, title, cols, report[key]) for key, (title, cols) in SECTIONS.items() if key in report]


def clip(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


# --- text ------------------------------------------------------------------------------------------


def table_lines(columns: list[Column], rows: list[dict[str, Any]], width: int = WIDTH) -> list[str]:
    """Aligned columns, two spaces apart, at most `width` characters: text columns shrink to fit."""
    cells = [[cell(row.get(key), kind, short=True) for key, _, kind in columns] for row in rows]
    widths = [max([len(title)] + [len(c[i]) for c in cells]) for i, (_, title, _) in enumerate(columns)]
    flexible = [i for i, (_, _, kind) in enumerate(columns) if kind == "text"]
    while sum(widths) + 2 * (len(widths) - 1) > width:
        i = max(flexible, key=lambda j: widths[j])
        if widths[i] <= 6:
            break
        widths[i] -= 1

    def line(values: list[str]) -> str:
        out = []
        for i, value in enumerate(values):
            v = clip(value, widths[i])
            out.append(v.ljust(widths[i]) if columns[i][2] == "text" else v.rjust(widths[i]))
        return "  ".join(out).rstrip()

    return [line([title for _, title, _ in columns]), *(line(c) for c in cells)]


def text(report: dict[str, Any]) -> str:
    title, about = heading(report)
    lines = [clip(title, WIDTH), *wrap(about, WIDTH), "", "Totals"]
    for key, label, kind in TOTALS:
        lines.append(f"  {label:<28}{cell(report['totals'][key], kind):>20}")
    for _, name, columns, rows in sections(report):
        lines += ["", f"{name} ({len(rows)})"]
        lines += ["  " + line for line in table_lines(columns, rows, WIDTH - 2)] if rows else ["  (none)"]
    return "\n".join(lines) + "\n"


def wrap(words: str, width: int) -> list[str]:
    out, line = [], ""
    for word in words.split(" "):
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*out, line] if line else out


# --- markdown --------------------------------------------------------------------------------------


def _md(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown(report: dict[str, Any]) -> str:
    title, about = heading(report)
    lines = [f"# {_md(title)}", "", _md(about), "", "## Totals", "", "| | |", "|---|---:|"]
    lines += [f"| {label} | {cell(report['totals'][key], kind)} |" for key, label, kind in TOTALS]
    for _, name, columns, rows in sections(report):
        lines += ["", f"## {name}", ""]
        if not rows:
            lines.append("(none)")
            continue
        lines.append("| " + " | ".join(t for _, t, _ in columns) + " |")
        lines.append("|" + "|".join("---" if k == "text" else "---:" for _, _, k in columns) + "|")
        for row in rows:
            lines.append("| " + " | ".join(_md(cell(row.get(key), kind)) for key, _, kind in columns) + " |")
    return "\n".join(lines) + "\n"


# --- html ------------------------------------------------------------------------------------------

STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.4em}
h2{font-size:1.1em;margin-top:1.6em}table{border-collapse:collapse}td,th{padding:2px 8px;
border-bottom:1px solid #ddd;text-align:right}td.t,th.t{text-align:left}.partial{color:#a40}
svg{vertical-align:middle}"""
BAR = 120  # pixels of the widest spend bar


def bar(value: float, top: float) -> str:
    """An inline SVG bar, `value` relative to `top`."""
    width = 0 if top <= 0 else round(BAR * max(value, 0) / top)
    return (
        f'<svg width="{BAR}" height="10" role="img" aria-label="{value:.2f} USD">'
        f'<rect width="{width}" height="10" fill="#3b7dd8"/></svg>'
    )


def page(report: dict[str, Any]) -> str:
    esc = html.escape
    title, about = heading(report)
    cls = ' class="partial"' if report["range"]["partial"] else ""
    out = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>',
        f"<style>{STYLE}</style></head>",
        f"<body><h1>{esc(title)}</h1><p{cls}>{esc(about)}</p><h2>Totals</h2><table>",
    ]
    for key, label, kind in TOTALS:
        out.append(
            f'<tr><th class="t">{esc(label)}</th><td>{esc(cell(report["totals"][key], kind))}</td></tr>'
        )
    out.append("</table>")
    for _, name, columns, rows in sections(report):
        out.append(f"<h2>{esc(name)}</h2>")
        if not rows:
            out.append("<p>(none)</p>")
            continue
        spend = any(key == "spend_usd" for key, _, _ in columns)
        top = max((row.get("spend_usd") or 0 for row in rows), default=0)
        head = "".join(f"<th{_cls(kind)}>{esc(t)}</th>" for _, t, kind in columns)
        out.append(f"<table><tr>{head}{'<th></th>' if spend else ''}</tr>")
        for row in rows:
            tds = "".join(f"<td{_cls(kind)}>{esc(cell(row.get(key), kind))}</td>" for key, _, kind in columns)
            extra = f"<td>{bar(row.get('spend_usd') or 0, top)}</td>" if spend else ""
            out.append(f"<tr>{tds}{extra}</tr>")
        out.append("</table>")
    out.append(f"<p>Generated {esc(report['range']['generated_at_utc'])} by export_metrics.py --report.</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _cls(kind: str) -> str:
    return ' class="t"' if kind == "text" else ""


# --- json and csv ----------------------------------------------------------------------------------


def as_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def long_rows(report: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """(section, key, field, value): range and totals with an empty key, table rows keyed by their
    first column (model, agent_id, endpoint, group, tool, user)."""
    out: list[tuple[str, str, str, Any]] = []
    for part in ("range", "totals"):
        out += [(part, "", field, value) for field, value in report[part].items()]
    for section, _, columns, rows in sections(report):
        ident = columns[0][0]
        for row in rows:
            out += [(section, row[ident], f, v) for f, v in row.items() if f != ident]
    return out


def as_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("section", "key", "field", "value"))
    conv: Callable[[Any], Any] = lambda v: "" if v is None else v  # noqa: E731
    writer.writerows((s, k, f, conv(v)) for s, k, f, v in long_rows(report))
    return buffer.getvalue()
