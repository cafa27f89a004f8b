"""MiniLM's six transformer blocks on ONNX Runtime, built from the safetensors weights at load time.

Why: in numpy one short sentence took 16–26 ms on the 2-core machine (OpenBLAS repacks every
weight matrix per product and numpy has no fused attention), which missed the gate's 20 ms per
pair. ONNX Runtime's CPU kernels (MLAS) with its fused BERT operators — `Attention`,
`SkipLayerNormalization` (residual + bias + layer norm) and `BiasGelu` (exact erf GELU) — run the
same sentence in about 6 ms on two threads, and a batch twice as fast, with the same results to
float rounding (2e-7). No ONNX file is shipped or downloaded: the graph is a dozen nodes per
block, written here with `onnx.helper` and fed the weights already on disk, so the package stays
small and the model is exactly the one sentence-transformers would load.

The session's threads do not spin while waiting (`allow_spinning = 0`): the daemon shares the CPU
with the editor and the agent model, and spinning threads made the numpy encoder's batches twenty
times slower on a busy machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from companion.gate.minilm import DIM, EPS, HEADS, LAYERS, Weights, block_weight, embed_tokens, fused_qkv

MICROSOFT = "com.microsoft"  # ONNX Runtime's contributed operators
ONNX_IR_VERSION = 8  # the newest onnx writes IR 14; ONNX Runtime reads up to 13, and 8 covers opset 17
OPSET = 17


def _declared_outside(name: str, array: np.ndarray):  # noqa: ANN202 - onnx.TensorProto
    """An initializer that names its shape but whose data the session is handed in memory
    (`SessionOptions.add_external_initializers`): the weights are not copied into the protobuf
    and out again (a gate loaded with them copied peaked at 338 MB, now 268 MB)."""
    from onnx import TensorProto

    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=array.shape,
                         data_location=TensorProto.EXTERNAL)
    for key, value in (("location", "in-memory"), ("offset", "0"), ("length", str(array.nbytes))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def build_graph(weights: Weights) -> tuple[Any, dict[str, np.ndarray]]:
    """The blocks as an ONNX model (inputs `hidden` (batch, length, DIM) float32, the embedding
    layer's output, and `mask` (batch, length) int32; output `states`, the last block's output),
    and the arrays of its initializers by name, for the session to take from memory."""
    from onnx import TensorProto, helper

    nodes, initializers, arrays = [], [], {}

    def weight(name: str, array: np.ndarray) -> str:
        arrays[name] = np.ascontiguousarray(array, dtype=np.float32)
        initializers.append(_declared_outside(name, arrays[name]))
        return name

    current = "hidden"
    for layer in range(LAYERS):
        def w(name: str, layer: int = layer) -> np.ndarray:
            return block_weight(weights, layer, name)

        p = f"layer{layer}."
        qkv, qkv_bias = fused_qkv(weights, layer)
        out = "states" if layer == LAYERS - 1 else p + "out"
        nodes += [
            helper.make_node("Attention", [current, weight(p + "qkv", qkv), weight(p + "qkv_bias", qkv_bias), "mask"],
                             [p + "context"], domain=MICROSOFT, num_heads=HEADS),
            helper.make_node("MatMul", [p + "context", weight(p + "attention_out", w("attention.output.dense.weight").T)],
                             [p + "attention"]),
            helper.make_node("SkipLayerNormalization",
                             [p + "attention", current, weight(p + "norm1", w("attention.output.LayerNorm.weight")),
                              weight(p + "norm1_bias", w("attention.output.LayerNorm.bias")),
                              weight(p + "attention_out_bias", w("attention.output.dense.bias"))],
                             [p + "mixed"], domain=MICROSOFT, epsilon=EPS),
            helper.make_node("MatMul", [p + "mixed", weight(p + "up", w("intermediate.dense.weight").T)], [p + "intermediate"]),
            helper.make_node("BiasGelu", [p + "intermediate", weight(p + "up_bias", w("intermediate.dense.bias"))], [p + "gelu"],
                             domain=MICROSOFT),
            helper.make_node("MatMul", [p + "gelu", weight(p + "down", w("output.dense.weight").T)], [p + "projected"]),
            helper.make_node("SkipLayerNormalization",
                             [p + "projected", p + "mixed", weight(p + "norm2", w("output.LayerNorm.weight")),
                              weight(p + "norm2_bias", w("output.LayerNorm.bias")),
                              weight(p + "down_bias", w("output.dense.bias"))],
                             [out], domain=MICROSOFT, epsilon=EPS),
        ]
        current = out
    graph = helper.make_graph(
        nodes, "minilm_blocks",
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "length", DIM]),
         helper.make_tensor_value_info("mask", TensorProto.INT32, ["batch", "length"])],
        [helper.make_tensor_value_info("states", TensorProto.FLOAT, ["batch", "length", DIM])],
        initializers)
    model = helper.make_model(graph, ir_version=ONNX_IR_VERSION,
                              opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MICROSOFT, 1)])
    return model, arrays


class OnnxBlocks:
    """The numpy embedding look-up, then the transformer blocks as one ONNX Runtime session on
    `threads` threads: token ids and mask in, hidden states out."""

    runtime = "onnx"

    def __init__(self, weights: Weights, threads: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # warnings about unused initializers are not the user's business
        self.threads = threads
        self.embeddings = {name: array for name, array in weights.items() if name.startswith("embeddings.")}
        model, arrays = build_graph(weights)
        # the session reads these buffers in place: they live as long as it does
        self._initializers = [onnxruntime.OrtValue.ortvalue_from_numpy(array) for array in arrays.values()]
        options.add_external_initializers(list(arrays), self._initializers)
        self._session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                                     providers=["CPUExecutionProvider"])

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        hidden = embed_tokens(self.embeddings, ids)
        return self._session.run(["states"], {"hidden": hidden, "mask": mask.astype(np.int32, copy=False)})[0]
