class UserError(Exception):
    """A mistake the user can fix: printed as one line, exit status 2, no traceback."""


class ComponentFailed(RuntimeError):
    """A part of the stack failed to start or died mid-run: the run ends with partial results."""
