"""Named errors. Raised deep, shown once: one line on stderr in the CLI, `st.error` in pages."""


class EmojichError(Exception):
    """A user-facing error: its message is the whole story, no traceback needed."""


class NotFound(EmojichError):
    pass


class SampleNotFound(NotFound):
    pass


class CheckpointNotFound(NotFound):
    pass


class RunNotFound(NotFound):
    pass


class RaterNotFound(NotFound):
    pass


class InvalidScore(EmojichError):
    pass


class PermissionDenied(EmojichError):
    pass


class InvalidToken(EmojichError):
    pass


class BadImage(EmojichError):
    pass
