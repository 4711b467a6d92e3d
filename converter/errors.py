"""Errors users can act on. The CLI turns each into `Error: <message>` + hint and an exit code."""

# Exit codes (the contract in DESIGN.md): 0 ok, 1 a budget or check failed, 2 usage error,
# 3 the input could not be processed, 4 an unexpected internal failure (a bug: see --verbose).
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_INTERNAL = 4


class ConverterError(Exception):
    """A failure the user can fix: says what is wrong (message) and what to do (hint)."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(ConverterError):
    """A model, data set or option value that cannot be processed."""


class ModelError(InputError):
    """A model file that cannot be loaded, or a model that a stage cannot handle."""


class DataError(InputError):
    """Data that cannot be read or does not fit the model."""


class ConversionError(ConverterError):
    """The TFLite converter failed, or its result is not what was asked for."""


class OutputExistsError(ConverterError):
    """An output already exists and --force was not given."""


class OutputPathError(ConverterError):
    """-o names an input, the working folder, or a folder edgeconv did not write: even --force
    does not write there."""


class CheckFailed(ConverterError):
    """A budget or a post-condition the user asked for was not met."""

    exit_code = EXIT_CHECK_FAILED


class NativeCrash(ConverterError):
    """Native code (TensorFlow's converter or kernels, a TFLite runtime) killed the process
    that did the work. This input cannot be processed by that code: exit 3 with a hint, like
    any other input the toolchain cannot handle, not 4 (a bug in edgeconv)."""
