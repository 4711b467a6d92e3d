"""The `edgeconv` command line. Subcommands load lazily so --help never imports TensorFlow."""
from .main import cli

__all__ = ["cli"]
