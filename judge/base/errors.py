"""Errors a user can act on: the CLI prints them as one line, the server shows them."""

from __future__ import annotations


class WinnowError(Exception):
    """A failure with a message that says what went wrong and what to do about it."""


class ModelError(WinnowError):
    """A model could not be resolved, downloaded or loaded."""


class Cancelled(WinnowError):
    """A model call was cancelled (by its caller) or went past its deadline."""
