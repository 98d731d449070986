"""The plot (bench.png): latency per verb against the floors, and the scaling curve.

Apart from the rest so matplotlib (the `bench` extra) is imported only when plotting, and a
run without it still prints its table and writes its JSON.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from floors import F_BARE, F_PYROUTE2
from node import PLUGIN_TITLES, PLUGINS, VERBS


def plot(report: dict[str, Any], png: Path) -> None:
    """Latency per verb (median bars, p95 whiskers, floors as lines) and the scaling curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ab, meta = report["ab"], report["meta"]
    scaling = report.get("scaling")
    fig, axes = plt.subplots(1, 2 if scaling else 1, figsize=(13 if scaling else 7, 5), squeeze=False)
    ax = axes[0][0]
    width = 0.38
    for k, p in enumerate(PLUGINS):
        xs, med, top = [], [], []
        for i, verb in enumerate(VERBS):
            s = ab["verbs"][p].get(verb)
            if s:
                xs.append(i + (k - 0.5) * width)
                med.append(s["median_ms"])
                top.append(s["p95_ms"])
        up = [t - m for t, m in zip(top, med, strict=True)]
        ax.bar(xs, med, width, yerr=[[0] * len(up), up], capsize=3, label=PLUGIN_TITLES[p])
        for x, m, t in zip(xs, med, top, strict=True):
            ax.annotate(f"{m:.0f}" if m >= 10 else f"{m:.1f}", (x, t * 1.04), ha="center", va="bottom", fontsize=7)
    for name, style in ((F_BARE, ":"), (F_PYROUTE2, "--")):
        ax.axhline(ab["floors"][name]["median_ms"], linestyle=style, color="grey", linewidth=1, label=name)
    ax.set_xticks(range(len(VERBS)), VERBS)
    ax.set_yscale("log")
    highest = max(s["p95_ms"] for verbs in ab["verbs"].values() for s in verbs.values())
    ax.set_ylim(top=max(highest, ab["floors"][F_PYROUTE2]["median_ms"]) * 5)  # headroom for the legend
    ax.set_ylabel("wall time per call, ms (median; whisker to p95)")
    ax.set_title("latency per verb")
    ax.legend(fontsize=8, loc="upper left")
    if scaling:
        ax = axes[0][1]
        pods = [lvl["pods"] for lvl in scaling["levels"]]
        for verb in ("ADD", "DEL"):
            med = [lvl[verb]["median_ms"] for lvl in scaling["levels"]]
            up = [lvl[verb]["p95_ms"] - lvl[verb]["median_ms"] for lvl in scaling["levels"]]
            line = ax.errorbar(pods, med, yerr=[[0] * len(up), up], marker="o", capsize=3, label=f"krafty {verb}")
            ref = [(lvl["pods"], lvl[f"reference_{verb}"]["median_ms"]) for lvl in scaling["levels"] if lvl["pods"]]
            ref = [(0, med[0]), *ref] if pods[0] == 0 else ref
            ax.plot(
                [x for x, _ in ref],
                [y for _, y in ref],
                linestyle=":",
                marker="x",
                color=line.lines[0].get_color(),
                label=f"{verb} on an empty node, paired",
            )
        ax.set_xticks(pods)
        ax.set_xlabel("pods already attached on the node")
        ax.set_ylabel("wall time per call, ms (median; whisker to p95)")
        ax.set_ylim(bottom=0)
        tp = scaling["throughput"]
        if tp:
            add = statistics.median(t["add_pods_per_s"] for t in tp)
            dele = statistics.median(t["del_pods_per_s"] for t in tp)
            ax.set_title(f"scaling; {tp[0]['pods']} concurrent: ADD {add:.1f} pods/s, DEL {dele:.1f} pods/s")
        ax.legend(fontsize=8)
    title = f"krafty vs Go bridge [{meta['label']}], {meta['started']}, {meta['machine']['cpus']} CPUs"
    if meta["in_vm"]:
        title += " - QEMU TCG: absolute times inflated, compare ratios"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
