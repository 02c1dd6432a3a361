"""setsel.engines (see DESIGN §2)."""
