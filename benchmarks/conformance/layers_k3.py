"""The corpus's user code for the Keras 3 model: a registered custom layer (Keras 3 API)."""
import keras


@keras.saving.register_keras_serializable("conformance_k3")
class Gain(keras.layers.Layer):
    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, shape):
        self.alpha = self.add_weight(name="alpha", shape=(shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.alpha * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
