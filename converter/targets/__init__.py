"""Targets that run .tflite models, all behind the Runtime / Session protocols of base.py."""
