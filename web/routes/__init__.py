"""Quart blueprints of the JSON API and sign-in."""
