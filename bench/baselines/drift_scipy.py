#!/usr/bin/env python3
"""scipy's side of bench/drift.bench.ts: per column, ks_2samp (method auto) and wasserstein_distance / reference std
on the same float64 columns Tarmac reads. Usage: drift_scipy.py DIR COLUMNS ROWS. Prints JSON: seconds and results."""
import json
import sys
import time

import numpy as np
import scipy
from scipy import stats

directory, columns, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ref = [np.fromfile(f"{directory}/ref-{c}.f64", dtype=np.float64, count=rows) for c in range(columns)]
cur = [np.fromfile(f"{directory}/cur-{c}.f64", dtype=np.float64, count=rows) for c in range(columns)]

started = time.perf_counter()
results = []
for c in range(columns):
    ks = stats.ks_2samp(ref[c], cur[c])
    wd = stats.wasserstein_distance(ref[c], cur[c]) / max(np.std(ref[c]), 0.001)
    results.append({"ks": float(ks.statistic), "p": float(ks.pvalue), "wasserstein": float(wd)})
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "scipy": scipy.__version__, "numpy": np.__version__, "results": results}))
