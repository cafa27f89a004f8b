"""The proactive agent: prompt, backends, reply parsing."""
