"""The one exception type the data layer raises for bad or missing input."""


class DataError(RuntimeError):
  """Data is missing, corrupt or inconsistent; the message says what to do."""
