"""The engine: decides when the agent speaks (triggers, budget), gives it context, and gates its
proposals before they reach the user. `companion.services.engine` runs it inside the daemon."""
