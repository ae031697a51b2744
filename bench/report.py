"""The benchmark report: a markdown table with ratios and targets, and a plot."""
import statistics
from collections import defaultdict

SYSTEMS = ["mpipool", "mpipool-direct", "raw-mpi", "multiprocessing", "mpi4py.futures"]
# Cases that take seconds a run; bench/run gives them --quick-repeats runs. On a VM each
# launch lands in a memory regime of its own (W1 at the default chunksize, 2 workers:
# per-launch ratios of 0.24 to 0.84 within 20 minutes), so their medians need more
# launches than the slow cases can afford.
QUICK_WORKLOADS = {"tasks", "roundtrip", "roundtrip_handoff", "roundtrip_mt"}  # handoff: a row of W2's run
QUICK_SYSTEMS = {"mpipool", "mpipool-direct", "raw-mpi"}


def is_quick(workload, system):
    return workload in QUICK_WORKLOADS and system in QUICK_SYSTEMS
COLORS = {"mpipool": "#1f77b4", "mpipool-direct": "#6baed6", "raw-mpi": "#2ca02c", "multiprocessing": "#d62728",
          "mpi4py.futures": "#9467bd", "bare spawn": "#2ca02c", "cold": "#1f77b4", "warm": "#6baed6",
          "Python Pool(2)": "#d62728"}


def by_key(summary):
    """{(workload, param, workers): {system: value}}, params in numeric order."""
    table = defaultdict(dict)
    for (workload, param, workers, system), (value, _, _) in summary.items():
        table[(workload, param, workers)][system] = value
    return table


def numeric(param):
    try:
        return float(param)
    except ValueError:
        return 0.0


def rows_of(table, workload):
    keys = [k for k in table if k[0] == workload]
    return sorted(keys, key=lambda k: (k[2], numeric(k[1])))


def fmt(value):
    if value is None:
        return "—"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def best_mpipool(values, higher_is_better):
    system = best_mode(values, higher_is_better)
    return None if system is None else values[system]


def best_mode(values, higher_is_better):
    """The mpipool mode with the better median: the one the targets apply to."""
    candidates = [s for s in ("mpipool", "mpipool-direct") if s in values]
    if not candidates:
        return None
    pick = max if higher_is_better else min
    return pick(candidates, key=lambda s: values[s])


def ratio(a, b):
    return a / b if a is not None and b else None


class PairedRatios:
    """Ratios taken within each repeat, then their median. Within a repeat the systems
    run back to back, seconds apart; this shared machine has slow minutes (raw MPI's
    W1 rate moved between 1.0 and 2.3 G items/s within one hour), and a ratio of two
    runs from the same minute cancels them, where a ratio of medians need not."""

    def __init__(self, measurements):
        # {(workload, param, workers): {(repeat, nth row of that run): {system: value}}}; a
        # program that prints several rows per run (W5: bare, cold, warm, each time round) pairs row by row.
        self.runs = defaultdict(lambda: defaultdict(dict))
        seen = defaultdict(int)
        for system, workload, param, workers, repeat, value, _ in measurements:
            key = (workload, param, workers)
            nth = seen[(key, repeat, system)]
            seen[(key, repeat, system)] += 1
            self.runs[key][(repeat, nth)][system] = value

    def __call__(self, top, bottom):
        """Median over repeats of top / bottom; each is a (key, system) pair."""
        (top_key, top_system), (bottom_key, bottom_system) = top, bottom
        if top_system is None or bottom_system is None:
            return None
        tops, bottoms = self.runs.get(top_key, {}), self.runs.get(bottom_key, {})
        ratios = [tops[r][top_system] / bottoms[r][bottom_system] for r in tops
                  if r in bottoms and top_system in tops[r] and bottoms[r].get(bottom_system)]
        return statistics.median(ratios) if ratios else None


def verdict(ok):
    return "—" if ok is None else ("met" if ok else "**missed**")


def table_row(case, values, extra):
    """A markdown row: the case, each system's value, then the extra cells."""
    return "| " + " | ".join([case] + [fmt(values.get(s)) for s in SYSTEMS] + extra) + " |\n"


def within(value, limit, higher_is_better=False):
    """met/missed for value against limit; — when there is no value."""
    if value is None:
        return verdict(None)
    return verdict(value >= limit if higher_is_better else value <= limit)


def systems_header(extra):
    cols = SYSTEMS + extra
    return "| " + " | ".join(["case"] + cols) + " |\n|" + "---|" * (len(cols) + 1) + "\n"


def launches(measurements):
    """{(workload, param, workers, system): how many runs (launches) it had}. A run may
    print several rows (W5 prints one per round), so rows are not runs."""
    repeats = defaultdict(set)
    for system, workload, param, workers, repeat, _, _ in measurements:
        repeats[(workload, param, workers, system)].add(repeat)
    return {key: len(seen) for key, seen in repeats.items()}


def runs_per_case(measurements):
    """How many runs the medians take, as the table's header says it."""
    quick, other = set(), set()
    for (workload, _, _, system), count in launches(measurements).items():
        (quick if is_quick(workload, system) else other).add(count)

    def span(counts):
        return str(min(counts)) if len(counts) == 1 else f"{min(counts)} to {max(counts)}"

    if not quick or not other or quick == other:
        return f"{span(quick | other)} run(s) per case"
    return (f"{span(other)} run(s) per case, {span(quick)} for W1 and W2 of mpipool and raw MPI (they take seconds; "
            "their ratios against the Python peers pair only the runs the peers had)")


def write_table(path, summary, measurements, info, smoke):
    table = by_key(summary)
    paired = PairedRatios(measurements)
    lines = [f"# Benchmark results{' (smoke run: tiny sizes, not for quoting)' if smoke else ''}\n",
             f"Machine: {info['cores']} cores ({info['cpu']}), Linux {info['kernel']}, {info['mpi']}, "
             f"Python {info['python']}. Date: {info['date']}. Values are medians of {runs_per_case(measurements)}. "
             "Ratios are medians of per-run ratios: in each run the systems take turns, seconds apart, so "
             "a ratio compares two measurements from the same minute of this shared machine. mpipool's "
             "targets apply to its fastest mode (the better median of supervised and direct).\n"]

    lines.append("\n## W1: no-op tasks, items/s (higher is better)\n\n")
    lines.append(systems_header(["vs raw", "vs multiprocessing", "vs mpi4py", "supervised / direct", "target"]))
    for key in rows_of(table, "tasks"):
        v = table[key]
        best = (key, best_mode(v, True))
        chunk1 = key[1] == "1"
        vs_raw = paired(best, (key, "raw-mpi"))
        vs_mp = paired(best, (key, "multiprocessing"))
        vs_m4 = paired(best, (key, "mpi4py.futures"))
        modes = paired((key, "mpipool"), (key, "mpipool-direct"))
        if chunk1:
            ok = None if None in (vs_raw, vs_mp, vs_m4) else vs_raw >= 0.25 and vs_mp >= 10 and vs_m4 >= 50
            target = "≥25% raw, ≥10× mp, ≥50× mpi4py"
        else:
            ok = None if vs_raw is None else vs_raw >= 0.5
            target = "≥50% raw"
        modes_ok = None if modes is None else modes >= 0.5
        lines.append(table_row(f"chunksize {key[1]}, {key[2]} worker(s)", v,
                               [fmt(vs_raw), fmt(vs_mp), fmt(vs_m4), f"{fmt(modes)} ({verdict(modes_ok)})",
                                f"{target}: {verdict(ok)}"]))

    lines.append("\n## W2: sequential apply round trips, µs per call (lower is better)\n\n")
    lines.append("\"raw MPI + child\" is raw MPI with each task handed to a child process of the worker through "
                 "shared memory (bench/handoff.hpp): the floor of any design that runs tasks outside the rank, "
                 "as supervised mode does. \"raw MPI, thread multiple\" is raw MPI initialised at "
                 "MPI_THREAD_MULTIPLE, the level mpipool runs at (each pool has a progress thread), where every "
                 "MPI call takes Open MPI's locks.\n\n")
    lines.append(systems_header(["raw MPI + child", "raw MPI, thread multiple", "mpipool best / raw",
                                 "mpipool best / raw, thread multiple", "supervised / direct",
                                 "supervised / raw MPI + child", "targets"]))
    for key in rows_of(table, "roundtrip"):
        v = table[key]
        floor_key = ("roundtrip_handoff", key[1], key[2])
        floor = table.get(floor_key, {}).get("raw-mpi")
        threaded_key = ("roundtrip_mt", key[1], key[2])
        threaded = table.get(threaded_key, {}).get("raw-mpi")
        best = (key, best_mode(v, False))
        r = paired(best, (key, "raw-mpi"))
        over_threaded = paired(best, (threaded_key, "raw-mpi"))
        modes = paired((key, "mpipool"), (key, "mpipool-direct"))
        over_floor = paired((key, "mpipool"), (floor_key, "raw-mpi"))
        lines.append(table_row("1 worker", v, [fmt(floor), fmt(threaded), fmt(r), fmt(over_threaded), fmt(modes),
                                               fmt(over_floor),
                                               f"≤3× raw: {within(r, 3)}; supervised ≤2× direct: {within(modes, 2)}"]))

    lines.append("\n## W3: 2,000 CPU-bound tasks, exponential durations (mean 2 ms), makespan / ideal\n\n")
    lines.append(systems_header(["target"]))
    for key in rows_of(table, "balance"):
        v = table[key]
        lines.append(table_row(f"{key[1]} tasks, {key[2]} workers", v,
                               [f"≤1.05: {within(best_mpipool(v, False), 1.05)}"]))

    lines.append("\n## W4: echo of a vector of doubles, GB/s there and back (higher is better)\n\n")
    lines.append(systems_header(["mpipool best / raw", "target"]))
    for key in rows_of(table, "echo"):
        v = table[key]
        r = paired((key, best_mode(v, True)), (key, "raw-mpi"))
        target = f"≥50% raw: {within(r, 0.5, higher_is_better=True)}" if numeric(key[1]) >= 64 else "—"
        lines.append(table_row(f"{key[1]} MiB", v, [fmt(r), target]))

    lines.append("\n## W5: a sub-pool of 2 workers started inside a task, seconds to its first result\n\n")
    spawn = {}
    for (workload, _, _, system), (value, _, _) in summary.items():
        if workload.startswith("spawn_"):
            spawn[workload] = value
    bare, cold, warm = spawn.get("spawn_bare"), spawn.get("spawn_cold"), spawn.get("spawn_warm")
    python = spawn.get("spawn_python_pool")
    lines.append("| bare MPI_Comm_spawn | mpipool cold | mpipool warm | Python Pool(2) in a non-daemonic worker |"
                 " cold / bare | targets |\n|---|---|---|---|---|---|\n")
    spawn_keys = {key[0]: key for key in paired.runs if key[0].startswith("spawn_")}
    cold_over_bare = paired((spawn_keys.get("spawn_cold"), "mpipool-direct"),
                            (spawn_keys.get("spawn_bare"), "mpipool-direct"))
    cold_ok = None if cold_over_bare is None else cold_over_bare <= 1.2
    warm_ok = None if warm is None else warm <= 0.001
    lines.append(f"| {fmt(bare)} | {fmt(cold)} | {fmt(warm)} | {fmt(python)} | {fmt(cold_over_bare)} | "
                 f"cold ≤1.2× bare: {verdict(cold_ok)}; warm ≤1 ms: {verdict(warm_ok)} |\n")

    lines.append("\n## W6: the master waits on 2 tasks that compute, master CPU s / wall s (lower is better)\n\n")
    lines.append(systems_header(["target"]))
    for key in rows_of(table, "idle"):
        v = table[key]
        lines.append(table_row(f"{key[1]} s tasks", v, [f"≤5%: {within(best_mpipool(v, False), 0.05)}"]))

    lines.append("\n## W7: imap_unordered, peak RSS of the master in MiB (flat is the target)\n\n")
    lines.append(systems_header([]))
    keys = rows_of(table, "imap_memory")
    for key in keys:
        v = table[key]
        lines.append(table_row(f"{int(numeric(key[1])):,} tasks", v, []))
    if len(keys) >= 2:
        first, last = table[keys[0]], table[keys[-1]]
        growth = {s: ratio(last.get(s), first.get(s)) for s in SYSTEMS}
        flat = growth.get("mpipool")
        lines.append("| growth, largest / smallest | " + " | ".join(fmt(growth[s]) for s in SYSTEMS) + " |\n")
        lines.append(f"\nmpipool flat (growth ≤ 1.2): {verdict(None if flat is None else flat <= 1.2)}\n")
    with open(path, "w") as f:
        f.writelines(lines)


def write_plot(path, summary, info):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = by_key(summary)
    panels = [("tasks", "W1 no-op tasks: items/s", True), ("roundtrip", "W2 apply round trip: µs", True),
              ("balance", "W3 makespan / ideal", False), ("echo", "W4 echo: GB/s", True),
              ("idle", "W6 master CPU while waiting", False), ("imap_memory", "W7 imap master RSS: MiB", False)]
    fig, axes = plt.subplots(2, 4, figsize=(20, 9))
    for ax, (workload, title, log) in zip(axes.flat, panels):
        keys = rows_of(table, workload)
        width = 0.8 / len(SYSTEMS)
        for i, system in enumerate(SYSTEMS):
            xs = [k for k, key in enumerate(keys) if system in table[key]]
            ys = [table[keys[k]][system] for k in xs]
            ax.bar([x + i * width for x in xs], ys, width, label=system, color=COLORS[system])
        ax.set_xticks([k + 0.4 - width / 2 for k in range(len(keys))])
        labels = {"tasks": lambda k: f"cs {k[1]}\n{k[2]} w", "echo": lambda k: f"{k[1]} MiB",
                  "imap_memory": lambda k: f"{int(numeric(k[1])):,}"}
        ax.set_xticklabels([labels.get(workload, lambda k: k[1])(k) for k in keys], fontsize=8)
        ax.set_title(title)
        floor = table.get(("roundtrip_handoff", "1", 1), {}).get("raw-mpi") if workload == "roundtrip" else None
        if floor is not None:  # supervised mode's floor: raw MPI through a child process
            ax.axhline(floor, linestyle="--", color=COLORS["raw-mpi"])
            ax.annotate("raw MPI + child process", (0, floor), xytext=(2, 3), textcoords="offset points", fontsize=8)
        if log:
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    spawn_ax = axes.flat[6]
    names = [("spawn_bare", "bare spawn"), ("spawn_cold", "cold"), ("spawn_warm", "warm"),
             ("spawn_python_pool", "Python Pool(2)")]
    values = {w: v for (w, _, _, _), (v, _, _) in summary.items() if w.startswith("spawn_")}
    shown = [(label, values[w]) for w, label in names if w in values]
    spawn_ax.bar([label for label, _ in shown], [v for _, v in shown], color=[COLORS[label] for label, _ in shown])
    spawn_ax.set_yscale("log")
    spawn_ax.set_title("W5 sub-pool of 2 in a task: seconds")
    spawn_ax.tick_params(axis="x", labelsize=8)
    spawn_ax.grid(axis="y", alpha=0.3)
    axes.flat[7].axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    axes.flat[7].legend(handles, labels, loc="center", fontsize=12, title="system")
    fig.suptitle(f"mpipool benchmarks — {info['cores']} cores, {info['mpi']}, {info['date']}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
