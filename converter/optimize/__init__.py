"""Training-time optimizations with TFMOT (pruning, QAT) and knowledge distillation."""
