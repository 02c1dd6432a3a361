"""setsel.retrieval (see DESIGN §2)."""
