"""Chat template: rewrite, lint, render (transformers-equivalent sandbox), tool-call parser."""
