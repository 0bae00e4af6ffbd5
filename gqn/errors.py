"""The one exception type a user sees: it names the file (and record or scene) and what is wrong."""


class GQNError(Exception):
    """A clear, user-facing error. The CLI prints it without a traceback; the app shows it."""
