"""The Python readers and group-bys that benchmark/csv.js compares offload with, on the same file
in the same run: pyarrow, pandas, polars and duckdb. Prints one JSON object: per reader, the
median milliseconds of `reps` runs after a warm-up (and what failed, if anything); with
--groupby, the group-by timings and pandas' group-by result for checking offload's.

Usage: python csv_peers.py FILE REPS THREADS [--groupby KEY VALUE] [--only NAME,...]
"""

import json
import os
import statistics
import sys
import time


def timed(fn, reps):
    fn()  # warm-up
    runs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return statistics.median(runs)


def main():
    path, reps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    args = sys.argv[4:]
    group = None
    only = None
    if "--groupby" in args:
        i = args.index("--groupby")
        group = (args[i + 1], args[i + 2])
    if "--only" in args:
        only = set(args[args.index("--only") + 1].split(","))
    os.environ["POLARS_MAX_THREADS"] = str(threads)
    out = {"versions": {}, "read": {}, "groupby": {}, "errors": {}}

    def want(name):
        return only is None or name in only

    def run(kind, name, fn):
        try:
            out[kind][name] = timed(fn, reps)
        except Exception as e:  # a peer that fails is reported, not fatal
            out["errors"][f"{kind} {name}"] = repr(e)[:300]

    import pyarrow as pa
    import pyarrow.csv as pacsv

    pa.set_cpu_count(threads)
    pa.set_io_thread_count(threads)
    out["versions"]["pyarrow"] = pa.__version__
    if want("pyarrow"):
        run("read", "pyarrow", lambda: pacsv.read_csv(path))
    import pandas as pd

    out["versions"]["pandas"] = pd.__version__
    if want("pandas"):
        run("read", "pandas", lambda: pd.read_csv(path))
    if want("pandas-pyarrow"):
        run("read", "pandas-pyarrow", lambda: pd.read_csv(path, engine="pyarrow"))
    import polars as pl

    out["versions"]["polars"] = pl.__version__
    if want("polars"):
        run("read", "polars", lambda: pl.read_csv(path, try_parse_dates=True))
    import duckdb

    out["versions"]["duckdb"] = duckdb.__version__
    if want("duckdb"):
        con = duckdb.connect()
        con.execute(f"SET threads TO {threads}")
        run("read", "duckdb", lambda: con.sql(f"SELECT * FROM read_csv('{path}')").to_arrow_table())

    if group:
        key, value = group
        aggs = ["count", "sum", "mean", "min", "max", "std"]
        df = pd.read_csv(path, usecols=[key, value])
        pdg = lambda: df.groupby(key, sort=True)[value].agg(aggs)
        run("groupby", "pandas", pdg)
        q = lambda: df.groupby(key, sort=True)[value].quantile([0.5, 0.99])
        run("groupby", "pandas quantiles", q)
        res = pdg()
        qs = q().unstack()
        out["pandas_result"] = {
            "keys": [str(k) for k in res.index],
            **{a: [None if v != v else float(v) for v in res[a]] for a in aggs},
            "q50": [float(v) for v in qs[0.5]],
            "q99": [float(v) for v in qs[0.99]],
        }
        pf = pl.read_csv(path, columns=[key, value])
        exprs = [
            pl.col(value).count().alias("count"),
            pl.col(value).sum().alias("sum"),
            pl.col(value).mean().alias("mean"),
            pl.col(value).min().alias("min"),
            pl.col(value).max().alias("max"),
            pl.col(value).std().alias("std"),
        ]
        run("groupby", "polars", lambda: pf.group_by(key).agg(exprs))
        qexprs = exprs + [pl.col(value).quantile(0.5, "linear").alias("q50"), pl.col(value).quantile(0.99, "linear").alias("q99")]
        run("groupby", "polars quantiles", lambda: pf.group_by(key).agg(qexprs))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
