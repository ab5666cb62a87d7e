#!/bin/sh
# Makes this folder: the bootstrap LRT's p-values on data simulated from K components (K = 1
# and K = 2, one dimension, n = 100, 60 data sets each, B = 19; latentmix.selection.null).
# One simulated data set is one task on a local Dask cluster of two worker processes, stored
# in replicates/ (not in git) and resumed if interrupted; about 10 minutes of task time on an
# idle two-core machine. An absolute OUT: the study replaces its output directory whole.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
python -m latentmix.selection.null "$here" --replications 60
