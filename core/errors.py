"""Errors meant for people, not stack traces.

Anything a user can cause (a wrong name, a missing file, a bad argument) raises
`UserError`; the CLI and the apps print its message as one line.
"""


class UserError(Exception):
    """A mistake in the user's input, explained in one sentence."""


class DataError(UserError):
    """The data is missing, empty or malformed."""
