"""Experiments kept with their results (docs/reward-gate.md): run from the repository root, e.g. `python -m experiments.reward_ablations`; not installed with the package."""
