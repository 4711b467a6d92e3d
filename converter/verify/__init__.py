"""Checking a converted model: comparison with its reference, measurement, explanations, layer errors."""
