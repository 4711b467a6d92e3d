"""Runs on the device side (emulated arm64 or a real board): a single file that needs only
NumPy and a TFLite interpreter (ai_edge_litert or tflite_runtime), never TensorFlow or edgeconv.

    python arm64_runner.py MODEL.tflite REQUEST.npz RESULT.npz

REQUEST holds `kernels` ('xnnpack' or 'reference'), `runs`, `warmup` and the raw (already
quantized) input tensors `in0`, `in1`, ... with samples along axis 0. RESULT holds raw outputs
`out0`, ... and `invoke_seconds` of the timed runs.
"""
import platform
import sys
import time

import numpy as np

try:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
except ImportError:  # older boards: tflite-runtime
    from tflite_runtime.interpreter import Interpreter, OpResolverType


def main(model_path, request_path, result_path):
    req = np.load(request_path)
    kind = OpResolverType.BUILTIN_REF if str(req["kernels"]) == "reference" else OpResolverType.AUTO
    it = Interpreter(model_path=model_path, experimental_op_resolver_type=kind, num_threads=1)
    it.allocate_tensors()
    ins, outs = it.get_input_details(), it.get_output_details()
    inputs = [req[f"in{i}"] for i in range(len(ins))]
    results = [[] for _ in outs]
    for n in range(len(inputs[0]) if inputs else 0):
        for d, x in zip(ins, inputs):
            it.set_tensor(d["index"], x[n:n + 1])
        it.invoke()
        for k, d in enumerate(outs):
            results[k].append(it.get_tensor(d["index"]))
    times = []
    for i in range(int(req["warmup"]) + int(req["runs"])):
        t0 = time.perf_counter()
        it.invoke()
        if i >= int(req["warmup"]):
            times.append(time.perf_counter() - t0)
    arrays = {f"out{k}": np.concatenate(r) for k, r in enumerate(results) if r}
    np.savez(result_path, invoke_seconds=np.array(times), machine=np.array(platform.machine()), **arrays)


if __name__ == "__main__":
    main(*sys.argv[1:4])
