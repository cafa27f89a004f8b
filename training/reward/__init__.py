"""Reward-gate training: the shipped heads (train.py), the packed base data (base_set.py), personal retraining (personal.py)."""
