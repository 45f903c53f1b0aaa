"""Weights: fetch from ModelScope, check servability, manifest and hashes."""
