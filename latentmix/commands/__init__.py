"""Sub-commands of the ``latentmix`` command line."""
