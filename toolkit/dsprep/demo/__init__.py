"""The bundled sample: tiny DeepSeek-V3-shaped checkpoints and a loopback ModelScope hub."""
