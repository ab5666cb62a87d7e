"""Pure functions of the EM algorithm: E-step, M-step, initialisation and the loop."""
