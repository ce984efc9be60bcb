"""A deterministic synthetic organisation that writes landing files in the DESIGN §3 shapes."""
