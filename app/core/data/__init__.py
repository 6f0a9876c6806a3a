"""Data files shipped with app.core (read through importlib.resources)."""
