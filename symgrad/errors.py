"""The one exception type symgrad raises for problems in the user's model or command."""


class SymgradError(Exception):
    """A problem the user can fix; its message is one line naming the problem and the fix."""


class SymgradWarning(UserWarning):
    """Something the user should know that does not stop the derivation."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message, '(no message)' for none, or for a message
    that itself raises (a user's exception with a broken __str__)."""
    try:
        text = str(e).strip().splitlines()
    except Exception:
        text = []
    return text[0] if text else "(no message)"
