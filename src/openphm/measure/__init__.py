"""Measure: denominators and indicators."""
