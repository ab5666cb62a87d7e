"""Ctrl-C during a study's sampling is an interrupt, not a partial trace (no compilation)."""

import sys
import types

import numpy as np
import pytest

from latentmix.studies import posterior


class FakePrior:
    HYPERPARAMETERS = ("scale",)
    scale = 1.0


class FakeSampler:
    cancelled = False

    def wait(self, *, timeout=None):
        raise KeyboardInterrupt  # what nutpie's blocking call would turn into a partial trace

    def cancel(self):
        FakeSampler.cancelled = True


def test_an_interrupt_while_sampling_is_raised_and_the_sampler_cancelled(monkeypatch):
    X = np.zeros((7, 1))
    prior = FakePrior()
    key = (7, 1, 2, "diag", posterior.prior_key(prior))
    compiled = types.SimpleNamespace(with_data=lambda **data: "model with data")
    monkeypatch.setitem(posterior._COMPILED, key, (compiled, 0.0))
    calls = {}

    def sample(model, **kwargs):
        calls.update(kwargs, model=model)
        return FakeSampler()

    monkeypatch.setitem(sys.modules, "nutpie", types.SimpleNamespace(sample=sample))
    config = {"draws": 5, "tune": 5, "chains": 1}
    with pytest.raises(KeyboardInterrupt):
        posterior.sample_swappable(X, 2, "diag", prior, config, 0)
    assert calls["blocking"] is False and calls["model"] == "model with data"
    assert FakeSampler.cancelled
