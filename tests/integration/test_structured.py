"""Structured (channel) pruning: the surgery is exact (zero-ablation), keeps the model's input
and output widths, and the smaller model converts to proven full int8."""
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from converter import keras_env
from converter.cli import cli
from converter.errors import ModelError
from converter.export.tflite import ConvertOptions, convert
from converter.inputs.data import Dataset
from converter.optimize.channel_graph import DEPTHWISE
from converter.optimize.channel_surgery import indices, rebuild
from converter.optimize.structured import ChannelOptions, plan_channels, prune_channels
from converter.settings import SettingError
from converter.targets.host import HostSession

keras = keras_env.keras()
L = keras.layers


def _conv_bn(x, filters, kernel=3, strides=1, relu=True):
    x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    return L.ReLU()(x) if relu else x


def resnet_like():
    """ResNet-8 style: identity and projection shortcuts joined by Add."""
    inp = keras.Input((16, 16, 3))
    x = _conv_bn(inp, 16)
    for filters, strides in ((16, 1), (32, 2)):
        y = _conv_bn(_conv_bn(x, filters, strides=strides), filters, relu=False)
        shortcut = x if strides == 1 else _conv_bn(x, filters, 1, strides, relu=False)
        x = L.ReLU()(L.Add()([y, shortcut]))
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(10)(x), name="resnet_like")


def mobilenet_v2():
    return keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=10,
                                          classifier_activation=None)


def efficientnet_b0():
    """Squeeze-excite (Reshape, Multiply), swish, depthwise, residual Add, from keras.applications."""
    return keras.applications.EfficientNetB0(input_shape=(32, 32, 3), weights=None, classes=10,
                                             classifier_activation=None)


def mini_xception():
    inp = keras.Input((24, 24, 1))
    x = _conv_bn(inp, 16)
    for filters in (32, 64):
        shortcut = L.BatchNormalization()(L.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x))
        y = L.BatchNormalization()(L.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x))
        y = L.BatchNormalization()(L.SeparableConv2D(filters, 3, padding="same", use_bias=False)(L.ReLU()(y)))
        x = L.Add()([L.MaxPooling2D(3, strides=2, padding="same")(y), shortcut])
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(7)(x), name="mini_xception")


def dense_inception():
    """A DenseNet-style block (features concatenated) feeding an Inception-style block (branches
    concatenated), then a transition conv."""
    inp = keras.Input((16, 16, 3))
    x = _conv_bn(inp, 16)
    for _ in range(2):
        x = L.Concatenate()([x, _conv_bn(x, 12)])
    branches = [_conv_bn(x, 16, 1), _conv_bn(_conv_bn(x, 8, 1), 16, 3),
                _conv_bn(L.MaxPooling2D(3, strides=1, padding="same")(x), 8, 1)]
    x = _conv_bn(L.Concatenate()(branches), 24, 1)
    x = L.GlobalAveragePooling2D()(L.AveragePooling2D()(x))
    return keras.Model(inp, L.Dense(5)(x), name="dense_inception")


def flatten_cnn():
    """The demo's shape of CNN: the last conv's channels reach a Dense layer through Flatten."""
    inp = keras.Input((8, 8, 1))
    x = L.Conv2D(16, 3, padding="same", activation="relu")(inp)
    x = L.MaxPooling2D()(L.Conv2D(16, 3, padding="same", activation="relu")(x))
    x = L.Dense(32, activation="relu")(L.Flatten()(x))
    return keras.Model(inp, L.Dense(10)(x), name="flatten_cnn")


def squeeze_excite():
    """An EfficientNet-style squeeze-excite block: the gate (GAP, Reshape, two 1x1 convs,
    sigmoid) multiplies the features, so the gate's channels are tied to the features'."""
    inp = keras.Input((16, 16, 3))
    x = _conv_bn(inp, 32)
    gate = L.Reshape((1, 1, 32))(L.GlobalAveragePooling2D()(x))
    gate = L.Conv2D(32, 1, activation="sigmoid")(L.Conv2D(8, 1, activation="relu")(gate))
    x = _conv_bn(L.Multiply()([x, gate]), 16)
    return keras.Model(inp, L.Dense(4)(L.GlobalAveragePooling2D()(x)), name="squeeze_excite")


def zero_removed(model, plan) -> None:
    """Make the channels the plan removes produce exactly zero in `model` (in place): their
    filters, biases and BatchNorm gamma/beta are set to 0."""
    graph = plan.graph
    for name, segments in graph.outputs.items():
        layer = model.get_layer(name)
        kind = type(layer).__name__
        removed = np.setdiff1d(np.arange(sum(w for _, w in segments)), indices(graph, segments, plan.kept))
        if not removed.size or not layer.weights:
            continue
        w = layer.get_weights()
        if kind in DEPTHWISE:
            w[0][..., removed, :] = 0
        elif kind == "BatchNormalization":
            w[0][removed] = w[1][removed] = 0  # gamma, beta
        elif kind in ("Conv2D", "Dense", "SeparableConv2D"):
            w[1 if kind == "SeparableConv2D" else 0][..., removed] = 0
        else:
            continue
        if kind != "BatchNormalization" and len(w) > (2 if kind == "SeparableConv2D" else 1):
            w[-1][removed] = 0
        layer.set_weights(w)


def _random_bn_statistics(model, rng) -> None:
    """Trained-looking BatchNorm layers, so the test does not pass only because gamma is 1."""
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            weights = layer.get_weights()  # gamma, beta, moving mean, moving variance
            layer.set_weights([rng.uniform(0.5, 1.5, v.shape).astype(np.float32) if i in (0, 3) else
                               rng.normal(0, 0.1, v.shape).astype(np.float32) for i, v in enumerate(weights)])


BUILDERS = {"residual": resnet_like, "depthwise": mobilenet_v2, "separable": mini_xception,
            "concatenation": dense_inception, "flatten": flatten_cnn, "squeeze_excite": squeeze_excite,
            "efficientnet": efficientnet_b0}


@pytest.mark.parametrize("graph", sorted(BUILDERS))
def test_zero_ablation_is_exact(graph):
    rng = np.random.default_rng(0)
    model = BUILDERS[graph]()
    _random_bn_statistics(model, rng)
    plan = plan_channels(model, None, ChannelOptions(ratio=0.5, importance="l2", round_to=4))
    zero_removed(model, plan)
    pruned = rebuild(plan.graph, plan.kept)
    x = rng.normal(size=(4, *model.input_shape[1:])).astype(np.float32)
    expected, got = model.predict(x, verbose=0), pruned.predict(x, verbose=0)
    assert pruned.input_shape == model.input_shape and pruned.output_shape == model.output_shape
    assert pruned.count_params() < 0.6 * model.count_params()
    assert np.abs(expected).max() > 1e-2  # the outputs are not trivially zero
    assert np.max(np.abs(expected - got)) < 1e-4, graph


def test_concatenation_slices_at_offsets():
    model = dense_inception()
    plan = plan_channels(model, None, ChannelOptions(ratio=0.5, importance="l1", round_to=4))
    concat = next(layer.name for layer in model.layers if type(layer).__name__ == "Concatenate")
    consumer_in = indices(plan.graph, plan.graph.outputs[concat], plan.kept)
    assert sum(w for _, w in plan.graph.outputs[concat]) == 28  # 16 + 12
    assert consumer_in.min() < 16 <= consumer_in.max()  # kept channels from both halves, second one offset


def test_residual_groups_are_tied_and_io_widths_kept():
    model = resnet_like()
    plan = plan_channels(model, None, ChannelOptions(ratio=0.5, importance="l1", round_to=8))
    groups = plan.graph.prunable()
    residual = [g for g in groups if len(g.producers) > 1]
    assert sorted(len(g.producers) for g in residual) == [2, 2]  # stem+block 1 conv, block 2 conv+projection
    pruned = rebuild(plan.graph, plan.kept)
    assert pruned.get_layer(model.layers[-1].name).units == 10


def _data(model, n=96, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *model.input_shape[1:])).astype(np.float32)
    return Dataset(x=x, y=rng.integers(0, classes, n), source="random")


def test_macs_target_and_int8_conversion():
    model = mobilenet_v2()
    data = _data(model)
    result = prune_channels(model, data, ChannelOptions(target_macs=0.5, importance="taylor",
                                                        train=None))
    total = result.summary()["total"]
    assert 0.45 < total["macs_after"] / total["macs_before"] <= 0.5
    assert all(row["channels_after"] % 8 == 0 or row["channels_after"] == row["channels_before"]
               for row in result.layers)
    converted = convert(result.model, data, ConvertOptions(samples=32))
    assert converted.proof.ok
    with HostSession(converted.tflite) as session:
        assert [v.shape for v in session.predict([data.x[:1]]).values()] == [(1, 10)]


def test_bad_inputs():
    with pytest.raises(SettingError, match=r"^prune.channels: the ratio must be at least 0 and below 1, not 1.2"):
        ChannelOptions(ratio=1.2)
    inp = keras.Input((8,))
    flat = keras.Model(inp, L.Dense(3)(inp))
    with pytest.raises(ModelError, match=r"^the model 'model\w*' has no channels that can be pruned"):
        plan_channels(flat, None, ChannelOptions(importance="l1"))


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _cells(output: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("│")[1:-1]] for line in output.splitlines() if line.startswith("│")]


def test_cli_prune_structured_text(chain, tmp_path):
    out = tmp_path / "small.keras"
    result = run("prune", chain.keras_path, "--data", chain.train_npz, "--structured", "--round-to", 2,
                 "--epochs", 1, "--no-int8-figures", "-o", out)
    assert result.exit_code == 0, result.output
    cells = _cells(result.stdout)
    assert result.stdout.splitlines()[0].strip() == f"model.keras -> {out}"
    assert cells[:3] == [
        ["channels removed", "50% of each group, rounded to 2, by bn importance; 3 of 3 groups shrunk"],
        ["parameters", "2,570 -> 706 (3.64x fewer)"],
        ["MACs", "22,944 -> 6,352 (3.61x fewer)"]]
    assert cells[3][0] == "accuracy on DATA"
    assert re.fullmatch(r"\d+\.\d% after surgery, \d+\.\d% after fine-tuning", cells[3][1])
    assert cells[4:] == [["layer conv1", "4 -> 2 channels, 2,304 -> 1,152 MACs"],
                         ["layer conv2", "8 -> 4 channels, 18,432 -> 4,608 MACs"],
                         ["layer dense", "16 -> 8 channels, 2,048 -> 512 MACs"]]
    result = run("convert", out, "--data", chain.train_npz, "-o", tmp_path / "small.tflite")
    assert result.exit_code == 0, result.output


def test_cli_prune_structured_json_with_int8_figures(chain, tmp_path):
    result = run("prune", chain.keras_path, "--data", chain.train_npz, "--structured", "--target-macs", 0.5,
                 "--round-to", 2, "--epochs", 1, "--distill", "-o", tmp_path / "small.keras", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["distilled"] and doc["target_macs"] == 0.5
    assert doc["total"]["macs_after"] <= 0.5 * doc["total"]["macs_before"]
    before, after = doc["int8"]["before"], doc["int8"]["after"]
    assert after["bytes"] < before["bytes"] and after["macs"] < before["macs"]
    assert after["arena_bytes"] <= before["arena_bytes"] and after["p50_ms"] > 0


def test_cli_prune_structured_bad_inputs(chain, tmp_path):
    out = tmp_path / "p.keras"
    for args, code, first in (
            (["--structured", "--channels", "1.5"], 2, "Invalid value for '--channels'"),
            (["--channels", "0.5"], 3, "Error: prune.channels is a setting of structured pruning"),
            (["--structured", "--channels", "0.5", "--target-macs", "0.5"], 3,
             "Error: prune.channels and prune.target_macs both set the amount pruned"),
            (["--structured", "--structure", "2:4"], 3, "Error: prune.structure does not apply to structured pruning"),
            (["--structured", "--target-macs", "0.01"], 3, "Error: removing 95% of every prunable group's channels "
                                                           "still leaves")):
        result = run("prune", chain.keras_path, "--data", chain.train_npz, "--epochs", 1, "-o", out, *args)
        assert result.exit_code == code, (args, result.output)
        assert first in result.stderr.splitlines()[0] if code == 3 else first in result.stderr, result.stderr
    assert not out.exists()


def test_structured_prune_composes_with_qat_and_convert(chain):
    import converter as ec

    run_ = ec.start(str(chain.keras_path), data=str(chain.train_npz), seed=0)
    result = ec.prune(run_, structured=True, channels=0.5, round_to=2, epochs=1, int8_figures=False)
    assert run_.model is result.model and run_.model.count_params() < chain.model.count_params()
    ec.qat(run_, epochs=1)
    assert ec.convert(run_, samples=50).proof.ok
    assert run_.report.sections["channels"]["total"]["params_after"] == result.model.count_params()


def test_layer_rules_name_over_type_over_global():
    model = resnet_like()
    convs = [layer.name for layer in model.layers if type(layer).__name__ == "Conv2D"]
    options = ChannelOptions(ratio=0.5, importance="l1", round_to=1, by_type={"Conv2D": 0.25},
                             overrides={convs[1]: 0.0})
    plan = plan_channels(model, None, options)
    by_producer = {p: plan.ratios[g.id] for g in plan.graph.prunable() for p in g.producers}
    assert by_producer[convs[1]] == 0.0  # its name rule wins over its type's
    assert by_producer[convs[2]] == 0.25  # the type rule wins over the global ratio
    kept = {p: len(plan.kept[g.id]) for g in plan.graph.prunable() for p in g.producers}
    assert kept[convs[1]] == 16 and kept[convs[2]] == 12


@pytest.mark.parametrize("head", ["batchnorm", "sigmoid"])
def test_removed_constant_channels_are_folded_into_the_next_bias(head):
    """A removed channel that outputs a constant (BN gamma 0: relu(beta); a sigmoid unit with no
    weights: sigmoid(bias)) keeps its contribution in the next layer's bias (or its BatchNorm's
    mean when the layer has no bias): the pruned model computes what the original does."""
    from converter.optimize.channel_compensation import compensate

    keras = keras_env.keras()
    keras_env.seed_everything(0)
    rng = np.random.default_rng(0)
    if head == "batchnorm":
        inputs = keras.Input((8, 8, 2))
        x = keras.layers.ReLU()(keras.layers.BatchNormalization(name="bn1")(keras.layers.Conv2D(4, 3, name="c1")(inputs)))
        x = keras.layers.BatchNormalization(name="bn2")(keras.layers.Conv2D(3, 3, use_bias=False, name="c2")(x))
        model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))
        gamma, beta, mean, var = model.get_layer("bn1").get_weights()
        gamma[:] = 1.0 + rng.random(4)
        gamma[0], beta[0] = 0.0, 0.7  # channel 0: relu(0.7) everywhere, and the smallest |gamma|
        model.get_layer("bn1").set_weights([gamma, beta, mean, var])
        importance = "bn"
    else:
        inputs = keras.Input((6,))
        hidden = keras.layers.Dense(4, activation="sigmoid", name="hidden")
        model = keras.Model(inputs, keras.layers.Dense(2, name="out")(hidden(inputs)))
        kernel, bias = hidden.get_weights()
        kernel[:, 0], bias[0] = 0.0, 1.5  # unit 0: sigmoid(1.5) whatever the input, and the smallest L1 norm
        hidden.set_weights([kernel, bias])
        importance = "l1"
    data = Dataset(rng.normal(size=(64, *model.input_shape[1:])).astype(np.float32), None, "random")
    plan = plan_channels(model, data, ChannelOptions(ratio=0.25, importance=importance, round_to=1))
    pruned = rebuild(plan.graph, plan.kept)
    before = np.abs(pruned.predict(data.x, verbose=0) - model.predict(data.x, verbose=0)).max()
    assert len(compensate(plan.graph, plan.kept, pruned, data)) == 1
    after = np.abs(pruned.predict(data.x, verbose=0) - model.predict(data.x, verbose=0)).max()
    assert before > 0.05 and after < 1e-4  # float32 rounding through the BatchNorm


def test_batchnorm_statistics_are_re_estimated_from_the_data():
    from converter.optimize.train import refresh_batchnorm_statistics

    keras = keras_env.keras()
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.99, name="bn")(inputs))
    model.get_layer("bn").set_weights([np.ones(3), np.zeros(3), np.full(3, 5.0), np.full(3, 0.01)])  # stale
    x = np.random.default_rng(0).normal(2.0, 3.0, (200, 4, 4, 3)).astype(np.float32)
    assert refresh_batchnorm_statistics(model, Dataset(x, None, "random"), batch_size=50) == 1
    bn = model.get_layer("bn")
    np.testing.assert_allclose(bn.moving_mean.numpy(), x.mean(axis=(0, 1, 2)), atol=0.05)
    np.testing.assert_allclose(bn.moving_variance.numpy(), x.var(axis=(0, 1, 2)), rtol=0.05)
    assert bn.momentum == 0.99  # restored
