"""The corpus's user code for tf_keras models: a registered custom layer and a subclassed
model. A user passes this file to edgeconv with `--import layers_tfk.py`."""
from converter import keras_env

keras = keras_env.keras()


@keras.saving.register_keras_serializable("conformance")
class ChannelGain(keras.layers.Layer):
    """A learned per-channel gain with a bias, then hard-swish: weights and a non-trivial op."""

    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, shape):
        self.gain = self.add_weight(name="gain", shape=(shape[-1],), initializer="ones")
        self.bias = self.add_weight(name="bias", shape=(shape[-1],), initializer="zeros")

    def call(self, x):
        x = x * self.gain * self.factor + self.bias
        return x * keras.activations.relu(x + 3.0, max_value=6.0) / 6.0

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable("conformance")
class TinyNet(keras.Model):
    """A subclassed model: layers built in __init__, the graph in call()."""

    def __init__(self, classes=10, **kwargs):
        super().__init__(**kwargs)
        self.classes = classes
        self.conv = keras.layers.Conv2D(8, 3, padding="same", activation="relu")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.head = keras.layers.Dense(classes, activation="softmax")

    def call(self, x):
        return self.head(self.pool(self.conv(x)))

    def get_config(self):
        return {"classes": self.classes}
