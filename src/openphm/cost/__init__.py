"""Patient-level costing (PLICS)."""
