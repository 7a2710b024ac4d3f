"""Plots of a sizing study: net cost against capital, the Pareto front of savings against capital, and a
heat map of NPV over miners × store volume (one panel per model, layout and strategy)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless
import matplotlib.pyplot as plt
import numpy as np

from boiler.sizing.score import Scored

_LAYOUT_COLOUR = {"single": "tab:blue", "preheat": "tab:orange"}


def pareto_front(rows: list[Scored]) -> list[Scored]:
    """Feasible candidates no other feasible one beats on both capital (lower) and savings (higher)."""
    front: list[Scored] = []
    best = -np.inf
    for r in sorted((r for r in rows if r.feasible), key=lambda r: (r.capital_eur, -r.savings_eur_per_year)):
        if r.savings_eur_per_year > best:
            front.append(r)
            best = r.savings_eur_per_year
    return front


def _short(r: Scored) -> str:
    return f"{r.count}×{r.model} {r.store_volume_l / 1000:g} m³ {r.layout}"


def plot_cost_vs_capital(rows: list[Scored], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(9, 6))
    for layout, colour in _LAYOUT_COLOUR.items():
        ok = [r for r in rows if r.feasible and r.layout == layout]
        if ok:
            ax.scatter([r.capital_eur / 1000 for r in ok], [r.net_cost_eur_per_year / 1000 for r in ok],
                       c=colour, label=f"{layout}, feasible", s=36)
    bad = [r for r in rows if not r.feasible]
    if bad:
        ax.scatter([r.capital_eur / 1000 for r in bad], [r.net_cost_eur_per_year / 1000 for r in bad],
                   c="grey", marker="x", label="infeasible (water below setpoint or hygiene)", s=36)
    baseline = [r.baseline_gas_cost_eur_per_year / 1000 for r in rows]
    if baseline:
        ax.axhline(float(np.mean(baseline)), color="red", ls="--", lw=1, label="gas boiler alone")
    for r in rows:
        if r.reference:
            ax.annotate("building's own", (r.capital_eur / 1000, r.net_cost_eur_per_year / 1000),
                        xytext=(6, 6), textcoords="offset points", fontsize=8)
    ax.set_xlabel("capital, k€ (example prices unless the sizing file gives real ones)")
    ax.set_ylabel("net cost of hot water, k€ per year (lower is better)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_pareto(rows: list[Scored], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(9, 6))
    ok = [r for r in rows if r.feasible]
    bad = [r for r in rows if not r.feasible]
    for layout, colour in _LAYOUT_COLOUR.items():
        mine = [r for r in ok if r.layout == layout]
        if mine:
            ax.scatter([r.capital_eur / 1000 for r in mine], [r.savings_eur_per_year / 1000 for r in mine],
                       c=colour, s=30, alpha=0.7, label=f"{layout}, feasible")
    if bad:
        ax.scatter([r.capital_eur / 1000 for r in bad], [r.savings_eur_per_year / 1000 for r in bad],
                   c="grey", marker="x", s=30, label="infeasible")
    front = pareto_front(rows)
    if front:
        ax.step([r.capital_eur / 1000 for r in front], [r.savings_eur_per_year / 1000 for r in front],
                where="post", color="black", lw=1.5, label="Pareto front")
        for r in front:
            ax.annotate(_short(r), (r.capital_eur / 1000, r.savings_eur_per_year / 1000), xytext=(5, -10),
                        textcoords="offset points", fontsize=7)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("capital, k€ (example prices unless the sizing file gives real ones)")
    ax.set_ylabel("saved against gas alone, k€ per year (higher is better)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_heatmap(rows: list[Scored], path: Path, title: str, max_panels: int = 6) -> None:
    """NPV over miners × store volume; an ✗ marks an infeasible cell."""
    groups: dict[tuple[str, str, str], list[Scored]] = {}
    for r in rows:
        groups.setdefault((r.model, r.layout, r.strategy), []).append(r)
    keys = sorted(groups)[:max_panels]
    counts = sorted({r.count for r in rows})
    volumes = sorted({r.store_volume_l for r in rows})
    npv_all = [r.npv_eur / 1000 for r in rows]
    limit = max(1.0, max(abs(v) for v in npv_all)) if npv_all else 1.0
    n = max(1, len(keys))
    cols = min(3, n)
    nrows = (n + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols + 1, 3.6 * nrows + 0.6), squeeze=False)
    image = None
    for ax, key in zip(axes.flat, keys, strict=False):
        grid = np.full((len(counts), len(volumes)), np.nan)
        feasible = np.zeros_like(grid, dtype=bool)
        for r in groups[key]:
            i, j = counts.index(r.count), volumes.index(r.store_volume_l)
            grid[i, j] = r.npv_eur / 1000
            feasible[i, j] = r.feasible
        image = ax.imshow(grid, cmap="RdYlGn", vmin=-limit, vmax=limit, origin="lower", aspect="auto")
        for i in range(len(counts)):
            for j in range(len(volumes)):
                if np.isfinite(grid[i, j]):
                    mark = "" if feasible[i, j] else "\n✗"
                    ax.text(j, i, f"{grid[i, j]:,.0f}{mark}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(volumes)), [f"{v / 1000:g}" for v in volumes])
        ax.set_yticks(range(len(counts)), [str(c) for c in counts])
        ax.set_xlabel("store volume, m³")
        ax.set_ylabel("miners")
        ax.set_title(f"{key[0]} · {key[1]} · {key[2]}", fontsize=9)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), label="NPV, k€ (✗ = infeasible)", shrink=0.8)
    skipped = len(groups) - len(keys)
    fig.suptitle(title + (f" (first {len(keys)} of {len(groups)} panels)" if skipped else ""), fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(rows: list[Scored], folder: Path, title: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "cost-vs-capital.png", folder / "pareto.png", folder / "heatmap.png"]
    plot_cost_vs_capital(rows, paths[0], f"{title}: net cost against capital")
    plot_pareto(rows, paths[1], f"{title}: savings against capital")
    plot_heatmap(rows, paths[2], f"{title}: NPV over miners × store volume")
    return paths


def plot_site_paybacks(rows: list[Scored], path: Path, title: str) -> None:
    """One bar per site: the payback of its best candidate, labelled with the candidate."""
    order = sorted(rows, key=lambda r: (r.payback_years is None, r.payback_years or 0.0))
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.45 * max(1, len(order))))
    y = np.arange(len(order))
    years = [r.payback_years if r.payback_years is not None else 0.0 for r in order]
    colours = ["tab:green" if r.npv_eur > 0 else "tab:orange" for r in order]
    ax.barh(y, years, color=colours)
    for i, r in enumerate(order):
        text = (f"{r.payback_years:.1f} y · {_short(r)} · NPV {r.npv_eur / 1000:,.0f} k€" if r.payback_years is not None
                else f"never pays back · {_short(r)}")
        ax.text(years[i] + 0.1, i, text, va="center", fontsize=8)
    ax.set_yticks(y, [r.site for r in order])
    ax.invert_yaxis()
    ax.set_xlabel("simple payback of the site's best feasible candidate, years (green: NPV > 0)")
    ax.set_xlim(0, max([*years, 1.0]) * 1.9)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_portfolio_plots(best: list[Scored], folder: Path, title: str) -> list[Path]:
    """Each site's best candidate: paybacks by site, and net cost and savings against capital."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "paybacks.png", folder / "cost-vs-capital.png", folder / "pareto.png"]
    plot_site_paybacks(best, paths[0], f"{title}: payback by site")
    plot_cost_vs_capital(best, paths[1], f"{title}: each site's best, net cost against capital")
    plot_pareto(best, paths[2], f"{title}: each site's best, savings against capital")
    return paths
