"""The version of minibp, in a room of its own so that any file can read it without importing the package."""

__version__ = "0.4.0"
