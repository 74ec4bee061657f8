"""numpy (OpenBLAS) peers for `npm run bench:native`: one job per call, the median time in ms.

  python numpy_peers.py matmul M K N float64|float32 RUNS
  python numpy_peers.py topk ROWS COLS K RUNS       (one float32 dot query: X @ q, argpartition)

Values are uniform random; neither job's time depends on them. numpy's BLAS uses every core
unless OPENBLAS_NUM_THREADS says otherwise.
"""
import sys
import time

import numpy as np


def median_ms(runs, fn):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    job = sys.argv[1]
    rng = np.random.default_rng(7)
    if job == "matmul":
        m, k, n = (int(x) for x in sys.argv[2:5])
        dtype = np.dtype(sys.argv[5])
        runs = int(sys.argv[6])
        a = rng.random((m, k)).astype(dtype)
        b = rng.random((k, n)).astype(dtype)
        a @ b  # warm up (threads, pages)
        print(f"{median_ms(runs, lambda: a @ b):.3f}")
    elif job == "topk":
        rows, cols, k, runs = (int(x) for x in sys.argv[2:6])
        x = rng.random((rows, cols), dtype=np.float32) - 0.5
        q = rng.random(cols, dtype=np.float32) - 0.5

        def top():
            scores = x @ q
            best = np.argpartition(-scores, k)[:k]
            return best[np.argsort(-scores[best])]

        top()
        print(f"{median_ms(runs, top):.3f}")
    else:
        raise SystemExit(f"unknown job {job}")


if __name__ == "__main__":
    main()
