"""numpy (OpenBLAS) peers for `npm run bench:native`: one job per call, the median time in ms.

  python numpy_peers.py matmul M K N float64|float32 RUNS
  python numpy_peers.py topk ROWS COLS K RUNS PAGES (one float32 dot query: X @ q, argpartition)

RUNS may be `serve`: the job is set up and warmed up, `ready` is printed, and then the job runs
once for every line read from stdin and prints its time in ms, until stdin ends. That is how
`bench:native` takes turns between numpy and offload (see `side_by_side` there).

PAGES is 4k or huge: the page size of the stored vectors (Linux). numpy itself asks for huge
pages (madvise) for every large array; a Node ArrayBuffer gets 4 KiB pages under the usual
`madvise` setting of transparent huge pages, and a 1.5 GB scan reads about 10% faster from huge
ones, so `bench:native` runs offload and numpy on each kind in turn. The job exits with an error
when the system gave the other kind.

Values are uniform random; neither job's time depends on them. numpy's BLAS uses every core
unless OPENBLAS_NUM_THREADS says otherwise.
"""
import ctypes
import mmap
import sys
import time

import numpy as np


def median_ms(runs, fn):
    if runs == "serve":
        print("ready", flush=True)
        for _ in sys.stdin:
            t0 = time.perf_counter()
            fn()
            print(f"{(time.perf_counter() - t0) * 1e3:.3f}", flush=True)
        return float("nan")
    runs = int(runs)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def paged_array(shape, dtype, huge):
    """An empty array on memory of one page size (advice given before any page is in)."""
    x = np.empty(shape, dtype)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        start = x.ctypes.data - x.ctypes.data % mmap.PAGESIZE
        length = x.ctypes.data + x.nbytes - start
        advice = mmap.MADV_HUGEPAGE if huge else mmap.MADV_NOHUGEPAGE
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        if libc.madvise(start, length, advice) != 0:
            raise SystemExit(f"madvise failed: errno {ctypes.get_errno()}")
    return x


def huge_page_kb():
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("AnonHugePages:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    job = sys.argv[1]
    rng = np.random.default_rng(7)
    if job == "matmul":
        m, k, n = (int(x) for x in sys.argv[2:5])
        dtype = np.dtype(sys.argv[5])
        runs = sys.argv[6]
        a = rng.random((m, k)).astype(dtype)
        b = rng.random((k, n)).astype(dtype)
        a @ b  # warm up (threads, pages)
        ms = median_ms(runs, lambda: a @ b)
        if runs != "serve":
            print(f"{ms:.3f}")
    elif job == "topk":
        rows, cols, k = (int(x) for x in sys.argv[2:5])
        runs = sys.argv[5]
        huge = sys.argv[6] == "huge"
        before = huge_page_kb()
        x = paged_array((rows, cols), np.float32, huge)
        rng.random(out=x, dtype=np.float32)
        x -= 0.5
        if (huge_page_kb() > before + x.nbytes // 2048) != huge:
            raise SystemExit("the system gave other pages than asked for")
        q = rng.random(cols, dtype=np.float32) - 0.5

        def top():
            scores = x @ q
            best = np.argpartition(-scores, k)[:k]
            return best[np.argsort(-scores[best])]

        top()
        ms = median_ms(runs, top)
        if runs != "serve":
            print(f"{ms:.3f}")
    else:
        raise SystemExit(f"unknown job {job}")


if __name__ == "__main__":
    main()
