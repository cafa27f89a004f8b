"""Screens of the dashboard: main, details, stats, models, settings, help, and the patch confirmation."""
