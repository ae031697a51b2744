"""mpi4py.futures.MPIPoolExecutor on the benchmark workloads, in static mode:

    mpirun -n W+1 python3 -m mpi4py.futures mpi4py_pool.py <workload> [arguments]
Rank 0 runs this script; the other ranks are the executor's workers.
Prints CSV rows: workload,param,workers,value,unit
"""
import sys

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor

from workloads import measure


class Adapter:
    def __init__(self, executor):
        self.executor = executor

    def map(self, f, items, chunksize):
        return list(self.executor.map(f, items, chunksize=chunksize))

    def apply(self, f, arg):
        return self.executor.submit(f, arg).result()

    def apply_async(self, f, arg):
        return self.executor.submit(f, arg).result

    def imap_unordered(self, f, items, chunksize):
        return self.executor.map(f, items, chunksize=chunksize, unordered=True)


def main():
    workload = sys.argv[1]
    args = [float(a) for a in sys.argv[2:]]
    with MPIPoolExecutor() as executor:
        workers = MPI.COMM_WORLD.Get_size() - 1  # static mode: every other rank is a worker
        measure(workload, args, workers, Adapter(executor))


if __name__ == "__main__":
    main()
