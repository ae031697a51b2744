"""What the Python peers share with the C++ benchmarks (bench/workloads.hpp): the
same task durations, busy work and measurements, run through an adapter that
gives each peer the same four verbs (map, apply, apply_async, imap_unordered)."""
import math
import resource
import time


def exponential_durations(count, mean_seconds, seed):
    """The same 64-bit LCG and inverse transform as bench/workloads.hpp."""
    state = seed
    mask = (1 << 64) - 1
    durations = []
    for _ in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) & mask
        u = (state >> 11) * 2.0 ** -53
        durations.append(-mean_seconds * math.log(1.0 - u))
    return durations


def ideal_makespan(durations, workers):
    return max(sum(durations) / workers, max(durations))


def busy_for(seconds):
    """Computes, without sleeping, for `seconds`."""
    end = time.perf_counter() + seconds
    x = 0.0
    while time.perf_counter() < end:
        for _ in range(100):
            x = x * 0.999 + 1.0
    return x


def noop(x):
    return x


def echo(data):
    return data


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


# W1's measurement, as in bench/workloads.hpp: warm-up runs for at least
# WARMUP_SECONDS, then up to TIMED_RUNS timed runs (fewer past TIMED_SECONDS, at
# least one); the median counts.
WARMUP_SECONDS = 0.2
TIMED_SECONDS = 2.0
TIMED_RUNS = 5


def steady_rate(items, run):
    warm = 0.0
    while warm < WARMUP_SECONDS:
        warm += run()
    rates, timed = [], 0.0
    while not rates or (len(rates) < TIMED_RUNS and timed < TIMED_SECONDS):
        seconds = run()
        timed += seconds
        rates.append(items / seconds)
    return median(rates)


def row(workload, param, workers, value, unit):
    print(f"{workload},{param},{workers},{value},{unit}", flush=True)


def measure(workload, args, workers, pool):
    """Runs one workload on `pool`, an adapter with map, apply, apply_async and imap_unordered."""
    if workload == "tasks":
        items, chunksize = int(args[0]), int(args[1])

        def run():
            start = time.perf_counter()
            pool.map(noop, range(items), chunksize)
            return time.perf_counter() - start

        row("tasks", chunksize, workers, f"{steady_rate(items, run):.1f}", "items/s")
    elif workload == "roundtrip":
        calls = int(args[0])
        for i in range(100):
            pool.apply(noop, i)
        start = time.perf_counter()
        for i in range(calls):
            pool.apply(noop, i)
        row("roundtrip", 1, workers, f"{(time.perf_counter() - start) / calls * 1e6:.3f}", "us")
    elif workload == "balance":
        durations = exponential_durations(int(args[0]), args[1] / 1000.0, int(args[2]))
        start = time.perf_counter()
        pool.map(busy_for, durations, 1)
        makespan = time.perf_counter() - start
        row("balance", len(durations), workers, f"{makespan / ideal_makespan(durations, workers):.4f}",
            "makespan/ideal")
    elif workload == "echo":
        mib, repeats = int(args[0]), int(args[1])
        data = bytes(mib << 20)
        rates = []
        for r in range(repeats + 1):
            start = time.perf_counter()
            back = pool.apply(echo, data)
            seconds = time.perf_counter() - start
            assert len(back) == len(data)
            if r > 0:  # the first is a warm-up
                rates.append(2.0 * len(data) / seconds / 1e9)
        row("echo", mib, workers, f"{median(rates):.3f}", "GB/s")
    elif workload == "idle":
        seconds = args[0]
        before, start = cpu_seconds(), time.perf_counter()
        pending = [pool.apply_async(busy_for, seconds) for _ in range(2)]
        for result in pending:
            result()
        row("idle", f"{seconds:g}", workers, f"{(cpu_seconds() - before) / (time.perf_counter() - start):.4f}",
            "cpu/wall")
    elif workload == "imap_memory":
        items, chunksize = int(args[0]), int(args[1])
        total = sum(pool.imap_unordered(noop, (i % 1000 for i in range(items)), chunksize))
        assert total == items // 1000 * 499500
        row("imap_memory", items, workers, f"{peak_rss_mib():.1f}", "MiB")
    else:
        raise SystemExit(f"unknown workload {workload}")
