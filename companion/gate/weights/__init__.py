"""The shipped reward-gate heads (gate_heads.safetensors) and their card (card.json): a package so they ship as package data."""
