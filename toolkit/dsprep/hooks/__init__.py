"""pre-commit entry points: thin, reusing weights, template and launch."""
