"""Readable text tables of an evaluation report (pooled, then one block per group)."""
from __future__ import annotations

import json
from pathlib import Path

from .methods import VECTOR_PREFIX

COLUMNS = (("windows", "windows", "{:d}"), ("ade", "ADE m", "{:.3f}"), ("fde", "FDE m", "{:.3f}"),
           ("ade_0p5", "ADE0.5 m", "{:.3f}"), ("miss_rate_1m", "miss1m", "{:.3f}"),
           ("coverage_1sigma", "cov1s", "{:.2f}"), ("coverage_2sigma", "cov2s", "{:.2f}"), ("nll", "NLL", "{:.2f}"),
           ("nees", "NEES", "{:.2f}"))


def format_block(title: str, entries: dict) -> str:
    """One table: a row per method with windows, ADE, FDE, ADE0.5 (and coverage/NLL when present)."""
    width = max([len("method")] + [len(name) for name in entries])
    lines = [f"== {title} ==", f"{'method':<{width}}  " + "  ".join(f"{head:>8}" for _, head, _ in COLUMNS)]
    for name, summary in entries.items():
        cells = [fmt.format(summary[key]) if key in summary else "-" for key, _, fmt in COLUMNS]
        lines.append(f"{name:<{width}}  " + "  ".join(f"{cell:>8}" for cell in cells))
    return "\n".join(lines)


def format_report(report: dict) -> str:
    """Pooled table, a table per group (folder), the ADE summary (`format_summary`), then the per-lead table
    (`format_leads`)."""
    blocks = [format_block("pooled", report["pooled"])]
    blocks += [format_block(group, entries) for group, entries in report["groups"].items()]
    leads = format_leads(report)
    return "\n\n".join(blocks + [format_summary(report)] + ([leads] if leads else []))


def format_leads(report: dict) -> str:
    """ADE / FDE at each lead time the protocol's horizon covers (0.5, 1, 2, 3 s: `Protocol.lead_steps`) per
    scope: a row per non-VECTOR method and, per VECTOR training set, its best checkpoint at each lead (VECTOR
    predicts 1 s: "-" beyond); for methods with std the range of the per-axis 1-sigma coverage over the horizon
    steps and the lowest 2-sigma coverage of any step (calibrated at every step: 68 +- 7 % and >= 90 %). Empty
    when the report has no per-lead figures."""
    leads = list(report.get("protocol", {}).get("lead_steps", {}))
    if not leads:
        return ""
    methods = list(report["pooled"])
    plain = [name for name in methods if not name.startswith(VECTOR_PREFIX)]
    sets = vector_sets(methods)
    heads = ["scope", "method"] + [f"{kind} {lead_name(key)}" for key in leads for kind in ("ADE", "FDE")]
    heads += ["cov1s steps", "cov2s min"]
    rows = []
    for scope, entries in [*report["groups"].items(), ("pooled", report["pooled"])]:
        for name in [*plain, *(f"best {name}" for name in sets)]:
            members = sets.get(name[len("best "):], []) if name.startswith("best ") else [name]
            cells = [scope, name]
            for key in leads:
                for kind in ("ade", "fde"):
                    values = [entries[m][f"{kind}_{key}"] for m in members if f"{kind}_{key}" in entries[m]]
                    cells.append(f"{min(values):.3f}" if values else "-")
            summary = entries[members[0]] if len(members) == 1 else {}
            one, two = summary.get("coverage_1sigma_by_step"), summary.get("coverage_2sigma_by_step")
            cells += [f"{100 * min(one):.0f}-{100 * max(one):.0f} %" if one else "-",
                      f"{100 * min(two):.0f} %" if two else "-"]
            rows.append(cells)
    widths = [max(len(head), *(len(row[i]) for row in rows)) for i, head in enumerate(heads)]

    def line(cells):
        return "  ".join(f"{cell:<{w}}" if i < 2 else f"{cell:>{w}}" for i, (cell, w) in enumerate(zip(cells, widths)))
    return "\n".join(["== ADE / FDE (m) by lead time ==", line(heads), *map(line, rows)])


def lead_name(key: str) -> str:
    """"0p5" -> "0.5s", "2s" -> "2s"."""
    return key.replace("p", ".") + ("" if key.endswith("s") else "s")


def vector_sets(names) -> dict[str, list[str]]:
    """VECTOR method names grouped by training set (`vector:<set>__<name>` -> <set>)."""
    sets: dict[str, list[str]] = {}
    for name in names:
        if name.startswith(VECTOR_PREFIX):
            sets.setdefault(name[len(VECTOR_PREFIX):].split("__")[0], []).append(name)
    return sets


def format_summary(report: dict) -> str:
    """ADE per scope (each group, then pooled): every non-VECTOR method and, per VECTOR training set,
    its best checkpoint in that scope (the layout of the issue's anchor table)."""
    methods = list(report["pooled"])
    plain = [name for name in methods if not name.startswith(VECTOR_PREFIX)]
    sets = vector_sets(methods)
    heads = ["windows", *plain, *(f"best {name}" for name in sets)]
    rows = []
    for scope, entries in [*report["groups"].items(), ("pooled", report["pooled"])]:
        ades = [entries[name].get("ade") for name in plain]
        ades += [min((entries[name]["ade"] for name in names if "ade" in entries[name]), default=None)
                 for names in sets.values()]
        windows = max((entry.get("windows", 0) for entry in entries.values()), default=0)
        rows.append([scope, str(windows), *("-" if ade is None else f"{ade:.3f}" for ade in ades)])
    first = max(len(row[0]) for row in rows + [["scope"]])
    widths = [max(8, len(head)) for head in heads]

    def line(cells):
        return f"{cells[0]:<{first}}  " + "  ".join(f"{cell:>{width}}" for cell, width in zip(cells[1:], widths))
    return "\n".join(["== ADE (m) summary ==", line(["scope", *heads]), *map(line, rows)])


def format_sweep(reports: list[dict], model: str = "model") -> str:
    """One ADE table over several perturbations of the same flights: a row per (perturbation, scope)
    with every non-VECTOR method, the best checkpoint of each VECTOR training set and, when `model` was
    evaluated, its ratio to the best other method in that row ("model/best")."""
    methods = list(reports[0]["pooled"]) if reports else []
    plain = [name for name in methods if not name.startswith(VECTOR_PREFIX)]
    sets = vector_sets(methods)
    ratio = model in plain and len(methods) > 1
    heads = ["perturbation", "scope", "windows", *plain, *(f"best {name}" for name in sets)]
    heads += ["model/best"] if ratio else []
    rows = []
    for report in reports:
        label = report.get("perturbation", {}).get("label", "clean")
        for scope, entries in [*report["groups"].items(), ("pooled", report["pooled"])]:
            ades = {name: entries[name].get("ade") for name in plain}
            ades.update({f"best {name}": min((entries[m]["ade"] for m in names if "ade" in entries[m]), default=None)
                         for name, names in sets.items()})
            windows = max((entry.get("windows", 0) for entry in entries.values()), default=0)
            cells = [label, scope, str(windows), *("-" if ades[h] is None else f"{ades[h]:.3f}" for h in heads[3:]
                                                   if h != "model/best")]
            if ratio:
                others = [value for name, value in ades.items() if name != model and value is not None]
                cells.append("-" if ades[model] is None or not others else f"{ades[model] / min(others):.2f}")
            rows.append(cells)
    widths = [max(len(head), *(len(row[i]) for row in rows)) for i, head in enumerate(heads)]

    def line(cells):
        return "  ".join(f"{cell:<{w}}" if i < 2 else f"{cell:>{w}}" for i, (cell, w) in enumerate(zip(cells, widths)))
    return "\n".join(["== ADE (m) over perturbations ==", line(heads), *map(line, rows)])


def save_report(report: dict, examples, json_path=None, plots_dir=None) -> None:
    """Write the JSON report and the plots (each when asked for) and print where they went."""
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(report, indent=1))
        print(f"report: {json_path}")
    if plots_dir:
        from .plots import write_plots
        written = write_plots(report, examples, plots_dir)
        print(f"plots: {', '.join(str(path) for path in written)}")
