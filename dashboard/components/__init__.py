"""Reusable pieces of the dashboard: page set-up, patient banner, image viewer, charts."""
