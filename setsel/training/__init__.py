"""setsel.training (see DESIGN §2)."""
