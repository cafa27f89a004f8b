"""The reward gate: decides whether a proposal is worth an interruption."""
