"""Chaos Hub: one API in front of many chaos-engineering tools."""

__version__ = "0.1.0"
