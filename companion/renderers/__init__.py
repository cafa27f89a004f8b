"""Renderers, one module per event source; each registers with companion.render.renderer."""
