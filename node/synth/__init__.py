"""Synthetic England: seeded, reproducible child records for every council, built on real reference data."""
