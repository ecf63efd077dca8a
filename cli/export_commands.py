"""`textlstm export` and `textlstm serve`: thin wrappers over
`textlstm.export` and `textlstm.serving`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from textlstm.cli.common import handle_errors, import_tensorflow_quietly
from textlstm.export import VerificationError, export_saved_models, verify_export


@click.command()
@click.argument(
    "run_dir",
    required=False,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Model base folder; the export goes to OUT/<version>/.",
)
@click.option(
    "--target",
    type=click.Choice(["cpu", "gpu", "tpu", "litert", "all"]),
    default="cpu",
    show_default=True,
    help="cpu: portable; gpu: cuDNN selected at run time, runs on CPU too; "
    "tpu: adds the fixed-shape XLA function tpu_func; litert: model.tflite on "
    "token ids (fused LSTM ops). all: the SavedModels OUT/cpu, OUT/gpu, OUT/tpu.",
)
@click.option(
    "--version",
    type=click.IntRange(min=1),
    help="Version number [default: one more than the largest in OUT].",
)
@click.option(
    "--tpu-batch-size",
    type=click.IntRange(min=1),
    help="Static batch of tpu_func [default: the config's train.batch_size].",
)
@click.option(
    "--xla",
    is_flag=True,
    help="Serving signatures call XLA-compiled loops (faster; TF Serving needs "
    "--xla_cpu_compilation_enabled=true or --xla_gpu_compilation_enabled=true).",
)
@click.option(
    "--quantize",
    type=click.Choice(["dynamic"]),
    help="litert: dynamic-range quantization (int8 weights); the test accuracy "
    "change is measured and checked.",
)
@click.option(
    "--no-verify",
    is_flag=True,
    help="Publish without the fresh-process verification (not recommended).",
)
@click.option(
    "--check",
    "check_path",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="PATH",
    help="Verify an existing export (OUT/<version>, or OUT for its latest) "
    "instead of exporting.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handle_errors
def export(
    run_dir,
    out,
    target,
    version,
    tpu_batch_size,
    xla,
    quantize,
    no_verify,
    check_path,
    as_json,
):
    """Export a run's model as a TensorFlow Serving SavedModel or a LiteRT
    model, verified.

    Writes OUT/<version>/ (saved_model.pb, variables/, assets/, assets.extra/)
    with the signatures serving_default (text -> probabilities, label_id,
    label) and serve_tokens (token_ids -> the same). The export is verified
    in a fresh TensorFlow-only process before it appears under its name.
    --target litert writes model.tflite (one text's token ids ->
    probabilities), vocab.txt and labels.txt instead, verified with the
    ai-edge-litert interpreter. Exit code 1 if verification fails.

    \b
    Examples:
      textlstm export runs/quickstart-20250101-120000 --out exports/quickstart
      textlstm export runs/quickstart-20250101-120000 --out exports/q --target gpu
      textlstm export runs/quickstart-20250101-120000 --out exports/q --target all
      textlstm export runs/quickstart-20250101-120000 --out exports/qx --xla
      textlstm export runs/quickstart-20250101-120000 --out exports/ql --target litert
      textlstm export --check exports/quickstart/1
    """
    if check_path is not None:
        if run_dir is not None or out is not None:
            raise click.UsageError("--check PATH takes no RUN_DIR and no --out")
        _check(check_path, as_json)
    if run_dir is None or out is None:
        raise click.UsageError("give RUN_DIR and --out DIR (or --check PATH)")
    import_tensorflow_quietly()
    results = export_saved_models(
        run_dir,
        out,
        target=target,
        version=version,
        verify=not no_verify,
        tpu_batch_size=tpu_batch_size,
        xla=xla,
        quantize=quantize,
        log=_log,
    )
    try:
        for result in results:
            if result.report is not None:
                _print_report(result.report, as_json)
            if not as_json:
                click.echo(
                    f"Exported {result.path} (target {result.target}, "
                    f"version {result.version})"
                )
    except VerificationError as error:
        _print_report(error.report, as_json)
        click.echo(f"Error: {error} (nothing was written)", err=True)
        sys.exit(1)


def _check(path: Path, as_json: bool) -> None:
    """`--check PATH`: print the verification; exit 0 if it passed, else 1."""
    import_tensorflow_quietly()
    report = verify_export(path)
    _print_report(report, as_json)
    sys.exit(0 if report.ok else 1)


def _log(message: str) -> None:
    click.echo(message, err=True)


def _print_report(report, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        click.echo(report.format())


@click.command()
@click.argument(
    "export_base", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8501, show_default=True)
@click.option(
    "--model-name",
    help="Model name in the URLs [default: the EXPORT_BASE folder's name].",
)
@click.option(
    "--versions",
    "policy",
    type=click.Choice(["latest", "all"]),
    default="latest",
    show_default=True,
    help="Serve only the latest version (as TF Serving does) or all of them.",
)
@click.option(
    "--poll-seconds",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Look for new versions this often (0: never).",
)
@click.option(
    "--grpc-port",
    type=click.IntRange(0, 65535),
    help="Also serve TF Serving's gRPC API (PredictionService, ModelService) "
    "on this port (TF Serving's is 8500).",
)
@click.option(
    "--batching/--no-batching",
    default=True,
    show_default=True,
    help="Run concurrent predict requests as one model call (TF Serving's "
    "--enable_batching).",
)
@click.option(
    "--max-batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Rows a batch grows to.",
)
@click.option(
    "--batch-timeout-ms",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="How long the oldest request waits for others to join its batch.",
)
@click.option(
    "--max-queued",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Requests waiting at most; one more is answered 503 (UNAVAILABLE).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="HTTP worker threads (concurrent requests a batch can gather).",
)
@click.option(
    "--stall-seconds",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="A request that sends no byte for this long (a body shorter than its "
    "Content-Length) is answered 408 and its connection closed.",
)
@handle_errors
def serve(
    export_base,
    host,
    port,
    model_name,
    policy,
    poll_seconds,
    grpc_port,
    batching,
    max_batch_size,
    batch_timeout_ms,
    max_queued,
    threads,
    stall_seconds,
):
    """Serve an export base over TensorFlow Serving's REST API.

    GET /v1/models/NAME, GET /v1/models/NAME/metadata and
    POST /v1/models/NAME:predict (also under /versions/N), with TF Serving's
    request and error formats, so TF Serving clients work unchanged.
    Concurrent requests are batched; a full queue answers 503. Prometheus
    metrics at /monitoring/prometheus/metrics.

    \b
    Examples:
      textlstm serve exports/quickstart
      textlstm serve exports/quickstart --port 8502 --model-name reviews
      textlstm serve exports/quickstart --grpc-port 8500 --max-batch-size 32
      curl -d '{"instances": ["what a film"]}' \\
        http://127.0.0.1:8501/v1/models/quickstart:predict
    """
    from textlstm.cluster.listening import listening_socket
    from textlstm.export.versions import check_model_base

    # First: a bad folder or a port in use is an error at once, before
    # TensorFlow loads.
    check_model_base(export_base)
    sock = listening_socket(host, port)
    import_tensorflow_quietly()
    from textlstm import serving  # heavy: TensorFlow

    options = serving.BatchOptions(
        enabled=True,
        max_batch_size=max_batch_size,
        batch_timeout=batch_timeout_ms / 1000,
        max_queued=max_queued,
    )
    serving.serve(
        export_base,
        host=host,
        port=port,
        model_name=model_name,
        policy=policy,
        poll_seconds=poll_seconds,
        batching=options if batching else None,
        threads=threads,
        sock=sock,
        grpc_port=grpc_port,
        stall_seconds=stall_seconds,
        log=_log,
    )
    # Nothing is left to write; skip the interpreter's teardown, where
    # TensorFlow sometimes aborts ("terminate called ... exception not
    # rethrown", exit -6) while it destroys a loaded SavedModel's threads.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
