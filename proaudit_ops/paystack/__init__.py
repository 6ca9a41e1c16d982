"""paystack layer (see DESIGN.md)."""
