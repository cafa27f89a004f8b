"""ProactiveBench base rows and their embeddings, read by companion/gate/base_set.py (package data)."""
