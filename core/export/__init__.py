"""Exporting registered models for deployment: ONNX (``onnx_export``), FP16
ONNX (``fp16``), TensorRT engines (``tensorrt``), the accuracy gate
(``validate``) and the deployment package (``package``, ``card``).

``runtime`` with ``preprocess`` / ``postprocess`` runs a package with
onnxruntime and numpy alone: those modules never import torch."""
