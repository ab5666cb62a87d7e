"""Research studies: coverage of intervals, simulation-based calibration, choice of K."""
