"""RNN Solution Atlas: train, analyse and catalogue the solutions recurrent networks find."""

__version__ = "0.1.0"
