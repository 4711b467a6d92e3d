"""Builds the Keras 3 corpus model in a process with TF_USE_LEGACY_KERAS=0: `import keras` is
Keras 3 here, as for a user who never heard of tf_keras."""
import sys

import keras

import layers_k3

keras.utils.set_random_seed(0)
i = keras.Input((16, 16, 3))
x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(i)
x = layers_k3.Gain(0.5, name="gain")(x)
x = keras.layers.GlobalAveragePooling2D()(x)
keras.Model(i, keras.layers.Dense(10, activation="softmax")(x)).save(sys.argv[1])
