"""Flax (linen) models."""
