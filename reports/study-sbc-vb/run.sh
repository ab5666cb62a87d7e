#!/bin/sh
# The commands that make this folder: simulation-based calibration of mean-field variational
# Bayes and of NUTS on the same 1-D two-component model, two priors on the means (separated,
# overlapping) by two sample sizes, then the page that puts them side by side. Each study
# stores one file per simulation in its replicates/ folder (not in git) and resumes if
# interrupted; with every file stored, a command only makes its page again. VB needs no
# compile (about 0.1-1 s per simulation); NUTS compiles once per study (about a minute).
# Absolute --out paths: a study replaces its output directory whole.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
for n in 50 500; do
    latentmix study sbc --simulations 300 --n $n -k 2 --seed 7 --draws 200 --thin 1 \
        --sampler vb --out "$here/vb-separated-n$n"
    latentmix study sbc --simulations 300 --n $n -k 2 --seed 7 --draws 200 --thin 1 \
        --sampler vb --overlap overlapping --out "$here/vb-overlapping-n$n"
    latentmix study sbc --simulations 100 --n $n -k 2 --seed 7 --out "$here/nuts-separated-n$n"
    latentmix study sbc --simulations 100 --n $n -k 2 --seed 7 --overlap overlapping \
        --out "$here/nuts-overlapping-n$n"
done
cd "$here"
python -c "
from latentmix.studies.sbc import write_comparison_page
cells = [f'{s}-{o}-n{n}' for s in ('vb', 'nuts') for o in ('separated', 'overlapping')
         for n in (50, 500)]
write_comparison_page(cells, '.')
"
