"""setsel.evaluation (see DESIGN §2)."""
