"""kv layer (see DESIGN.md)."""
