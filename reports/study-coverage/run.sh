#!/bin/sh
# The commands that make this folder. Each stores one file per replicate in its replicates/
# folder and resumes if interrupted; re-running an unchanged command with every replicate stored
# only makes its page again. The replicate files are not in git (see README.md): on a fresh
# clone this script computes them all, about 1.2 hours of task time (the coverage study is
# nearly all of it), spread over a local Dask cluster of two worker processes.
# Absolute --out paths: a study replaces its output directory whole, this folder included.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
latentmix study coverage --truth well_separated --n 50,200,1000 --replications 100 \
    --out "$here" --seed 20261122 --n-boot 100 --draws 500 --tune 500 --chains 2 --no-vb
latentmix study sbc --simulations 100 --n 50 -k 2 --out "$here/sbc" --seed 7
latentmix study sbc --simulations 100 --n 50 -k 2 --out "$here/sbc-wrong-prior" --seed 7 \
    --wrong-prior
latentmix study select galaxies -k 1..6 --out "$here/select-galaxies" --seed 3
