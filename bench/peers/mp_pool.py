"""multiprocessing.Pool, the seed's system, on the benchmark workloads.

    python3 mp_pool.py <workload> <workers> [arguments]   (see bench/pool_bench.cpp)
Prints CSV rows: workload,param,workers,value,unit
"""
import multiprocessing
import multiprocessing.pool
import sys
import time

from workloads import measure, noop, row


class NoDaemonProcess(multiprocessing.Process):
    """The seed's workaround: a worker that may have children of its own."""

    @property
    def daemon(self):
        return False

    @daemon.setter
    def daemon(self, value):
        pass


class NoDaemonContext(type(multiprocessing.get_context())):
    Process = NoDaemonProcess


class MyPool(multiprocessing.pool.Pool):
    def __init__(self, *args, **kwargs):
        kwargs["context"] = NoDaemonContext()
        super().__init__(*args, **kwargs)


class Adapter:
    def __init__(self, pool):
        self.pool = pool

    def map(self, f, items, chunksize):
        return self.pool.map(f, items, chunksize=chunksize)

    def apply(self, f, arg):
        return self.pool.apply(f, (arg,))

    def apply_async(self, f, arg):
        return self.pool.apply_async(f, (arg,)).get

    def imap_unordered(self, f, items, chunksize):
        return self.pool.imap_unordered(f, items, chunksize=chunksize)


def subpool_start(workers):
    """Seconds to start Pool(workers) inside a worker and run its first task."""
    start = time.perf_counter()
    with multiprocessing.Pool(workers) as sub:
        sub.apply(noop, (1,))
        return time.perf_counter() - start


def main():
    workload, workers = sys.argv[1], int(sys.argv[2])
    args = [float(a) for a in sys.argv[3:]]
    if workload == "spawn":  # W5: Pool(2) inside a non-daemonic worker, the seed's way
        with MyPool(1) as pool:
            for _ in range(int(args[0]) if args else 3):
                row("spawn_python_pool", 2, workers, f"{pool.apply(subpool_start, (2,)):.4f}", "s")
        return
    with multiprocessing.Pool(workers) as pool:
        measure(workload, args, workers, Adapter(pool))


if __name__ == "__main__":
    main()
