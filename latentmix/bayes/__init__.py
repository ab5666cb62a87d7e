"""The PyMC model of the mixture: distributions, model, sampling, relabelling."""
