"""The one base class of every error alignclf raises on purpose: each command prints it as one line and exits 2."""


class AlignclfError(Exception):
    """A problem with the user's input, files or settings; the message says what and where.

    Anything else that escapes a command is a bug and keeps its traceback.
    """
