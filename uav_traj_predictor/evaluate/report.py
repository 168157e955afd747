"""Readable text tables of an evaluation report (pooled, then one block per group)."""
from __future__ import annotations

COLUMNS = (("windows", "windows", "{:d}"), ("ade", "ADE m", "{:.3f}"), ("fde", "FDE m", "{:.3f}"),
           ("ade_0p5", "ADE0.5 m", "{:.3f}"), ("coverage_1sigma", "cov1s", "{:.2f}"),
           ("coverage_2sigma", "cov2s", "{:.2f}"), ("nll", "NLL", "{:.2f}"))


def format_block(title: str, entries: dict) -> str:
    """One table: a row per method with windows, ADE, FDE, ADE0.5 (and coverage/NLL when present)."""
    width = max([len("method")] + [len(name) for name in entries])
    lines = [f"== {title} ==", f"{'method':<{width}}  " + "  ".join(f"{head:>8}" for _, head, _ in COLUMNS)]
    for name, summary in entries.items():
        cells = [fmt.format(summary[key]) if key in summary else "-" for key, _, fmt in COLUMNS]
        lines.append(f"{name:<{width}}  " + "  ".join(f"{cell:>8}" for cell in cells))
    return "\n".join(lines)


def format_report(report: dict) -> str:
    """Pooled table followed by a table per group (folder)."""
    blocks = [format_block("pooled", report["pooled"])]
    blocks += [format_block(group, entries) for group, entries in report["groups"].items()]
    return "\n\n".join(blocks)
