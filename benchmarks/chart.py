"""The chart of docs/benchmarks.md: each tool's deploy time against the network's round-trip time.

Not a benchmark itself: bench_cluster.py measures, run_all.py (and `bench_cluster.py --chart`) call
`latency_chart` with the medians. Matplotlib is imported here only, so the benchmarks that draw
nothing run without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

LABELS = {
    "gitops-push": "gitops-push deploy --no-wait",
    "kubectl": "kubectl apply --server-side",
    "raw": "bare client (PATCHes only, as many in flight as gitops-push)",
}
STYLES = {"gitops-push": ("tab:blue", "o"), "kubectl": ("tab:orange", "s"), "raw": ("tab:gray", "^")}


def latency_chart(
    series: Mapping[str, Mapping[str, Sequence[tuple[int, float]]]],
    out: Path,
    *,
    objects: int,
    machine: str,
) -> None:
    """One panel per phase (create, update): seconds against round-trip ms, one line per tool, and
    kubectl's time over gitops-push's under each round trip on the x axis."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(
        1, len(series), figsize=(5.2 * len(series), 4.4), sharey=True, squeeze=False
    )
    top = 1.1 * max(
        seconds for tools in series.values() for points in tools.values() for _, seconds in points
    )
    for ax, (phase, tools) in zip(axes[0], series.items(), strict=True):
        for tool, points in tools.items():
            xs, times = zip(*sorted(points), strict=True)
            color, marker = STYLES.get(tool, ("black", "x"))
            ax.plot(xs, times, marker=marker, color=color, label=LABELS.get(tool, tool))
        ours, theirs = dict(tools.get("gitops-push", ())), dict(tools.get("kubectl", ()))
        rtts = sorted({rtt for points in tools.values() for rtt, _ in points})
        ax.set_xticks(rtts, [_tick(rtt, ours.get(rtt), theirs.get(rtt)) for rtt in rtts], fontsize=8)
        ax.set_title(f"{objects} objects, {phase}")
        ax.set_xlabel(
            "round-trip time to the API server, ms\n(below it: kubectl's time / gitops-push's)", fontsize=9
        )
        ax.set_ylim(0, top)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("wall-clock seconds (median)")
    axes[0][0].legend(fontsize=8, loc="upper left")
    figure.suptitle("Deploy time against network latency", fontsize=10)
    figure.text(0.5, 0.005, _wrap(machine), ha="center", va="bottom", fontsize=6, color="dimgray")
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    # No timestamp in the file's metadata: the same figures give the same bytes.
    figure.savefig(out, dpi=110, metadata={"Software": None})
    pyplot.close(figure)


def _tick(rtt: int, ours: float | None, theirs: float | None) -> str:
    if ours and theirs:
        return f"{rtt}\n{theirs / ours:.1f}x"
    return str(rtt)


def _wrap(text: str, width: int = 150) -> str:
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])
