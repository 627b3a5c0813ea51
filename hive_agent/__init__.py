"""HIVE: self-hosted real-time speech translation for LiveKit rooms."""

__version__ = "0.1.0"
