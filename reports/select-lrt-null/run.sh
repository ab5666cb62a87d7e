#!/bin/sh
# Makes this folder: the bootstrap LRT's p-values on data simulated from K components (K = 1
# and K = 2, one dimension, n = 100, 100 data sets each, B = 19, every fit with latentmix
# select's 10 EM restarts; latentmix.selection.null). One simulated data set is one task on a
# local Dask cluster of two worker processes, stored in replicates/ (not in git) and resumed if
# interrupted; about 35 minutes of wall time on an idle two-core machine. The study refuses a
# study.json of other settings: delete it (and replicates/) to run other settings here.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
python -m latentmix.selection.null "$here" --replications 100 --workers 2
