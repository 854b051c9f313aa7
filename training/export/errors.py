"""Exceptions of bundle export and loading."""


class BundleError(ValueError):
    """A model bundle that is missing, incomplete, modified or of an unknown format, with a message that names the file."""


class ExportError(ValueError):
    """A run that cannot be exported as a bundle, with a message that names the cause and the fix."""
