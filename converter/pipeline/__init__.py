"""Recipes and the steps they run: loading, the run folder, one function per step."""
