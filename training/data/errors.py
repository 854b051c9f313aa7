"""The exception raised for every user-facing problem with a data source."""


class DatasetError(ValueError):
    """A data source that is missing, malformed or unusable; the message names the value and the fix."""
