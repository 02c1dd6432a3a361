"""setsel.selection (see DESIGN §2)."""
