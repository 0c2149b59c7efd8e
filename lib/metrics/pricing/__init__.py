"""Pricing: versioned tables (TOML) and the cost model."""
