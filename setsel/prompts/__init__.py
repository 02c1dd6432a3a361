"""setsel.prompts (see DESIGN §2)."""
