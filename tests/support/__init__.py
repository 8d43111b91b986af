"""Helpers for the tests: servers and processes they start (mongo.py), and what they compare."""
