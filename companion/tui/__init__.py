"""The Textual dashboard (`companion tui`): live events, the proposal inbox, stats, models, settings."""
