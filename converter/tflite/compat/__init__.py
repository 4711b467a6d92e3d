"""Rule sets: which ops a target runtime or accelerator can run."""
