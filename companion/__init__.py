"""companion: a proactive coding companion that watches, proposes, and learns locally."""

__version__ = "0.1.0"
