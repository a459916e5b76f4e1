"""Self-hostable, drop-in compatible image captioning API."""

__version__ = "0.1.0"
