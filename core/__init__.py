"""Leaf values every layer may use: the clock, user roles, text normalisation.

Nothing here imports the app (no Flask, no stores, no services), so any module can depend on it.
"""
