#!/bin/sh
# The commands that produced this folder (each resumes if interrupted; re-running an
# unchanged command only rebuilds the report from the stored replicates).
set -e
cd "$(dirname "$0")"
latentmix study coverage --truth well_separated --n 50,200,1000 --replications 100 --out . \
    --seed 20261122 --n-boot 100 --draws 500 --tune 500 --chains 2
latentmix study sbc --simulations 100 --n 50 --k 2 --out sbc --seed 7
latentmix study sbc --simulations 100 --n 50 --k 2 --out sbc-wrong-prior --seed 7 --wrong-prior
latentmix study select galaxies --k 1..6 --out select-galaxies --seed 3
