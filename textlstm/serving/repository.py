"""The loaded versions of a model base, kept up to date as TF Serving does."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path

import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2

from textlstm.export.versions import version_numbers
from textlstm.export.warmup import replay_warmup
from textlstm.serving.batching import Batcher, BatchOptions, QueueFull
from textlstm.serving.rest import RequestError

__all__ = ["DIRECT_LIMIT", "ModelRepository", "Servable"]

#: Requests running at once on a version without batching; more get 503.
DIRECT_LIMIT = 256


class Servable:
    """One loaded version: the SavedModel, its signature specs, and a
    `Batcher` per signature (`textlstm.serving.batching`).

    Args:
        path: The version folder.
        batching: How concurrent requests are batched and queued; None:
            each request calls the signature itself, at most
            `DIRECT_LIMIT` at once (more get `QueueFull`).
        observe_batch: `observe_batch(signature_name, rows)`, called for
            each batch run.
    """

    def __init__(
        self,
        path: Path,
        batching: BatchOptions | None = None,
        observe_batch: Callable[[str, int], None] | None = None,
    ):
        self.path = path
        self.loaded = tf.saved_model.load(str(path))
        self.signatures = dict(self.loaded.signatures)
        self.input_specs = {
            name: dict(function.structured_input_signature[1])
            for name, function in self.signatures.items()
        }
        self._metadata = None
        self._signature_defs = None
        # As TF Serving: an --xla export compiles its shapes before serving.
        self.warmed_up = replay_warmup(path, self.signatures)
        self._observe = observe_batch or (lambda name, rows: None)
        self.batchers = {}
        if batching is not None:
            self.batchers = {
                name: Batcher(
                    functools.partial(self.call, name),
                    batching,
                    functools.partial(self._observe, name),
                )
                for name in self.signatures
            }
        self._in_flight = threading.BoundedSemaphore(DIRECT_LIMIT)

    def call(self, signature_name: str, inputs: dict) -> dict:
        """The signature on NumPy inputs, its outputs as NumPy arrays."""
        specs = self.input_specs[signature_name]
        tensors = {
            key: tf.constant(value, specs[key].dtype) for key, value in inputs.items()
        }
        outputs = self.signatures[signature_name](**tensors)
        return {key: value.numpy() for key, value in outputs.items()}

    def run(self, signature_name: str, inputs: dict) -> dict:
        """`call`, through the signature's batcher when batching.

        Raises:
            QueueFull: too many requests are waiting (answer 503).
        """
        batcher = self.batchers.get(signature_name)
        if batcher is not None:
            return batcher.submit(inputs)
        if not self._in_flight.acquire(blocking=False):
            raise QueueFull(f"{DIRECT_LIMIT} requests are running already; retry later")
        try:
            outputs = self.call(signature_name, inputs)
        finally:
            self._in_flight.release()
        self._observe(signature_name, len(next(iter(inputs.values()))))
        return outputs

    def close(self) -> None:
        """Stop the batchers' threads (the version is unloaded)."""
        for batcher in self.batchers.values():
            batcher.stop()

    def signature_defs(self):
        """The SignatureDefs of `saved_model.pb` (name -> proto)."""
        if self._signature_defs is None:
            saved_model = saved_model_pb2.SavedModel()
            saved_model.ParseFromString((self.path / "saved_model.pb").read_bytes())
            self._signature_defs = dict(saved_model.meta_graphs[0].signature_def)
        return self._signature_defs

    def metadata(self) -> dict:
        """The SignatureDefMap as TF Serving's JSON prints it."""
        if self._metadata is None:
            self._metadata = {
                key: _message_to_dict(value)
                for key, value in self.signature_defs().items()
            }
        return self._metadata


def _message_to_dict(message) -> dict:
    # TF Serving prints proto field names and default values.
    try:
        return json_format.MessageToDict(
            message,
            preserving_proto_field_name=True,
            always_print_fields_with_no_presence=True,
        )
    except TypeError:  # protobuf < 5
        return json_format.MessageToDict(
            message,
            preserving_proto_field_name=True,
            including_default_value_fields=True,
        )


class ModelRepository:
    """The loaded versions of one model base folder, kept up to date.

    Args:
        base: The model base folder (`OUT` of `textlstm export --out OUT`).
        name: The model name in URLs.
        policy: `"latest"` (TF Serving's default: only the largest version)
            or `"all"` (every version folder).
        log: Called with one-line messages (versions loaded, unloaded).
        batching: `BatchOptions` of every loaded version (None: no
            batching).
        metrics: `ServingMetrics` that count the batches.
    """

    def __init__(
        self,
        base: str | os.PathLike,
        name: str,
        policy: str = "latest",
        log: Callable[[str], None] | None = None,
        batching: BatchOptions | None = None,
        metrics=None,
    ):
        if policy not in ("latest", "all"):
            raise ValueError(f"policy: {policy!r} is not one of latest, all")
        self.base = Path(base)
        self.name = name
        self.policy = policy
        self.log = log or (lambda message: None)
        self.batching = batching
        self.metrics = metrics
        self._servables: dict[int, Servable] = {}
        self._failed: dict[int, str] = {}
        self._lock = threading.Lock()

    def wanted_versions(self) -> list[int]:
        """Version folders (with a saved_model.pb) the policy asks for."""
        versions = version_numbers(self.base, complete=True)
        return versions[-1:] if self.policy == "latest" else versions

    def refresh(self) -> None:
        """Load new versions and unload those the policy no longer wants.

        A version that fails to load is reported (`END` in the status) and
        the version served so far stays until a wanted one loads.
        """
        wanted = self.wanted_versions()
        for version in wanted:
            if version in self._servables or version in self._failed:
                continue
            try:
                servable = self._load(version)
            except Exception as error:  # a broken folder must not stop serving
                self._failed[version] = f"{type(error).__name__}: {error}"
                self.log(f"version {version} failed to load: {self._failed[version]}")
                continue
            with self._lock:
                self._servables[version] = servable
            warmed = (
                f" ({servable.warmed_up} warm-up requests replayed)"
                if servable.warmed_up
                else ""
            )
            self.log(f"loaded {self.name} version {version}{warmed}")
        with self._lock:
            stale = [v for v in self._servables if v not in wanted]
            if wanted and stale and not any(v in self._servables for v in wanted):
                # As TF Serving's availability-preserving policy: a new
                # version that fails to load does not take down the one
                # being served.
                stale.remove(max(stale))
            for version in stale:
                self._servables.pop(version).close()
                self.log(f"unloaded {self.name} version {version}")

    def _load(self, version: int) -> Servable:
        observe = None
        if self.metrics is not None:
            observe = functools.partial(self.metrics.observe_batch, self.name)
        return Servable(self.base / str(version), self.batching, observe)

    def servables(self) -> list[Servable]:
        """The loaded versions' servables."""
        with self._lock:
            return list(self._servables.values())

    def versions(self) -> list[int]:
        with self._lock:
            return sorted(self._servables)

    def get(self, version: int | None) -> tuple[int, Servable]:
        """The servable of `version` (the latest if None), or a 404 error."""
        with self._lock:
            if version is None:
                if not self._servables:
                    raise RequestError(
                        f"Servable not found for request: Latest({self.name})", 404
                    )
                version = max(self._servables)
            servable = self._servables.get(version)
        if servable is None:
            raise RequestError(
                f"Servable not found for request: Specific({self.name}, {version})",
                404,
            )
        return version, servable

    def status(self, version: int | None) -> list[dict]:
        def entry(v, state, code="OK", message=""):
            return {
                "version": str(v),
                "state": state,
                "status": {"error_code": code, "error_message": message},
            }

        if version is not None:
            if version in self._failed:
                return [entry(version, "END", "UNKNOWN", self._failed[version])]
            self.get(version)
            return [entry(version, "AVAILABLE")]
        found = [entry(v, "AVAILABLE") for v in self.versions()]
        found += [entry(v, "END", "UNKNOWN", m) for v, m in self._failed.items()]
        if not found:
            raise RequestError(f"Could not find any versions of model {self.name}", 404)
        return sorted(found, key=lambda e: -int(e["version"]))
