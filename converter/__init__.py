"""edgeconv: Keras models to fully-integer TFLite for edge devices, with proof.

Importing this package is cheap: TensorFlow is imported only by the stages that need it.
"""
__version__ = "0.1.0"
