"""setsel.synthesis (see DESIGN §2)."""
