"""ReportSettings: every field checked, the seed resolved."""

import pytest

from latentmix.report import ReportSettings


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"test_fraction": 1.5}, "test fraction"),
        ({"draws": 0}, "draws"),
        ({"chains": 1}, "chains"),
        ({"tune": -1}, "tune"),
        ({"n_init": 0}, "n_init"),
        ({"n_components": True}, "n_components"),
        ({"covariance_type": "banana"}, "covariance_type"),
        ({"level": 1.0}, "level"),
        ({"level": 0.0}, "level"),
        ({"sampler": "emcee"}, "sampler"),
        ({"prior": "none"}, "proper prior"),
        ({"missing": "drop"}, "missing must be"),
        ({"posterior_rows": 19}, "posterior_rows must be a whole number >= 20"),
        ({"posterior_rows": True}, "posterior_rows"),
        ({"chain_starts": "random"}, "chain_starts must be one of optima, map"),
    ],
)
def test_bad_settings_name_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        ReportSettings(**{"n_components": 2, **change}).check()


def test_check_resolves_the_seed_and_keeps_the_rest():
    settings = ReportSettings(2, draws=200, chains=2, level=0.9).check()
    assert isinstance(settings.seed, int)
    assert (settings.draws, settings.chains, settings.level) == (200, 2, 0.9)
    assert ReportSettings(2, seed=7).check().seed == 7
    # The glossary's default: 95% intervals.
    assert ReportSettings(2).level == 0.95


def test_chains_start_at_the_optima_in_turn_or_all_at_the_map():
    from latentmix.report.analysis import chain_starts
    from latentmix.report.modes import Optimum

    optima = [Optimum(params=f"optimum {k}", objective=-k, n_restarts=1) for k in range(6)]
    settings = ReportSettings(2, chains=4)
    assert chain_starts(optima, settings) == [f"optimum {k}" for k in range(4)]
    assert chain_starts(optima[:2], settings) == ["optimum 0", "optimum 1"]
    assert chain_starts(optima, ReportSettings(2, chain_starts="map")) == ["optimum 0"]
