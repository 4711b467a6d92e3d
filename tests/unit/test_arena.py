from converter.tflite.arena import lifetimes, plan
from converter.tflite.reader import Operator, Subgraph, TensorInfo


def _tensor(i, nbytes, constant=False):
    return TensorInfo(i, f"t{i}", "int8", (nbytes,), (nbytes,), constant, False)


def _chain(sizes):
    """t0 -> op0 -> t1 -> op1 -> t2 ...: a straight line of ops, weights in a constant tensor."""
    n = len(sizes)
    tensors = [_tensor(i, s) for i, s in enumerate(sizes)] + [_tensor(n, 1000, constant=True)]
    ops = [Operator(i, "CONV_2D", 1, (i, n), (i + 1,)) for i in range(n - 1)]
    return Subgraph(0, "main", tuple(tensors), tuple(ops), (0,), (n - 1,))


def test_straight_line_reuses_memory_of_dead_tensors():
    sg = _chain([64, 128, 32, 128, 16])
    p = plan(sg)
    # only an op's input and output are alive at once: the biggest pair is 64 + 128
    assert p.arena_bytes == 192
    assert p.naive_bytes == 64 + 128 + 32 + 128 + 16


def test_live_tensors_never_overlap():
    sg = _chain([48, 96, 200, 16, 80, 80])
    p = plan(sg)
    bufs = {b.tensor: b for b in lifetimes(sg)}
    for a in bufs.values():
        for b in bufs.values():
            if a.tensor < b.tensor and a.first <= b.last and b.first <= a.last:
                oa, ob = p.offsets[a.tensor], p.offsets[b.tensor]
                assert oa + a.size <= ob or ob + b.size <= oa


def test_constants_are_not_planned_and_sizes_are_aligned():
    sg = _chain([3, 5])
    assert {b.tensor for b in lifetimes(sg)} == {0, 1}
    assert all(b.size == 16 for b in lifetimes(sg))


def test_arena_of_real_model_is_below_naive(chain):
    from converter.tflite.reader import read_model_file

    p = plan(read_model_file(chain.int8_tflite).main)
    assert 0 < p.arena_bytes < p.naive_bytes


def test_macs_of_the_digits_cnn(chain):
    from converter.tflite.macs import model_macs
    from converter.tflite.reader import read_model_file

    # width-4 demo CNN: conv 1->4 3x3 and 4->8 3x3 on 8x8, dense 128->16, dense 16->10
    expected = 64 * 4 * 9 + 64 * 8 * 9 * 4 + 16 * 128 + 10 * 16
    assert model_macs(read_model_file(chain.int8_tflite).main) == expected
