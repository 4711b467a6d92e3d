"""Model intake: every model format, safe loading (user code only with trust), data sets and preprocessing."""
