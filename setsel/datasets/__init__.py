"""setsel.datasets (see DESIGN §2)."""
