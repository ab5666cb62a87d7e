#!/bin/sh
# Makes this folder: the bootstrap LRT's p-values on data simulated from K components (K = 1
# and K = 2, one dimension, n = 100, 100 data sets each, B = 19). One simulated data set is one
# task on a local Dask cluster of two worker processes, stored in replicates/ (not in git) and
# resumed if interrupted; about 5 minutes of task time on an idle two-core machine.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
python - "$here" <<'PY'
import sys

from latentmix.selection.null import null_config, run_null, write_null_pages

config = null_config(n=100, replications=100, bootstrap=19, n_init=3, seed=20261202)
records = run_null(config, sys.argv[1], scheduler="local", n_workers=2)
print(*write_null_pages(records, config, sys.argv[1]))
PY
