"""clickpath: one real-time pipeline from affiliate click to player value and postback."""

__version__ = "0.1.0"
