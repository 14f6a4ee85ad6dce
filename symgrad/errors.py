"""The one exception type symgrad raises for problems in the user's model or command."""


class SymgradError(Exception):
    """A problem the user can fix; its message is one line naming the problem and the fix."""


class SymgradWarning(UserWarning):
    """Something the user should know that does not stop the derivation."""
