"""Sub-commands of the ``latentmix`` command line."""


def parse_prior(text: str):
    """``--prior``: ``none`` (MLE, returned as None), ``default``, or a JSON/TOML file."""
    if text in ("none", "default"):
        return None if text == "none" else "default"
    from latentmix.priors import ConjugatePrior

    return ConjugatePrior.read(text)
