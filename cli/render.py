"""What the commands print: panels, tables and lines (rich for terminals).

Every command renders here, so the look of the CLI lives in one module and
the commands stay thin (parse, call the library, hand the result here).
"""

from __future__ import annotations

import json
import os

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from textlstm.runs import read_json


def console(stderr: bool = False):
    """A rich console on stdout (or stderr), no syntax highlighting."""
    return Console(stderr=stderr, highlight=False)


def fit_summary(result, config) -> None:
    """The one-screen panel `textlstm fit` ends with."""
    metrics = result.metrics
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    model = config["model"]
    direction = "bidirectional " if model["bidirectional"] else ""
    table.add_row(
        "model",
        f"{model['layers']}x {direction}{model['cell']} ({model['impl']}), "
        f"{model['units']} units, pooling {model['pooling']}",
    )
    if model["embeddings"]:
        table.add_row("embeddings", _embeddings_line(result.run_dir, model))
    table.add_row(
        "data",
        f"{config['data']['source']}, classes: {', '.join(metrics['class_names'])}",
    )
    epochs = f"{result.epochs_completed}/{config['train']['epochs']}"
    if result.stopped_early:
        epochs += " (early stopping)"
    if result.resumed_from_epoch is not None:
        epochs += f" (resumed after epoch {result.resumed_from_epoch})"
    table.add_row("epochs", epochs)
    table.add_row(
        f"test ({metrics['num_examples']})",
        f"accuracy {metrics['accuracy']:.4f}   macro-F1 {metrics['macro_f1']:.4f}   "
        f"loss {metrics['loss']:.4f}"
        + (f"   ROC-AUC {metrics['roc_auc']:.4f}" if metrics.get("roc_auc") else ""),
    )
    validation = metrics.get("validation")
    if validation:
        table.add_row(
            f"validation ({validation['num_examples']})",
            f"accuracy {validation['accuracy']:.4f}   loss {validation['loss']:.4f}",
        )
    table.add_row("wall time", f"{result.wall_time_s:.1f} s")
    table.add_row("run folder", str(result.run_dir))
    table.add_row(
        "next",
        f"textlstm evaluate {result.run_dir} --json\n"
        f'textlstm predict {result.run_dir} "some text"\n'
        f"tensorboard --logdir {result.run_dir / 'tensorboard'}",
    )
    console().print(Panel(table, title=f"[bold]{config['name']}[/] done", expand=False))


def _embeddings_line(run_dir, model) -> str:
    """`glove.txt: 8,123 of 10,000 tokens (81.2%), trainable`, from run.json."""
    found = read_json(run_dir / "run.json").get("embeddings") or {}
    name = os.path.basename(model["embeddings"])
    state = "trainable" if model["embeddings_trainable"] else "frozen"
    if not found:
        return f"{name}, {state}"
    return (
        f"{name}: {found['found']:,} of {found['vocabulary']:,} tokens "
        f"({100 * found['coverage']:.1f}%), {state}"
    )


def pretrain_summary(result, config) -> None:
    """The one-screen panel `textlstm pretrain` ends with."""
    metrics = result.metrics
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    model = config["model"]
    table.add_row(
        "encoder",
        f"{model['layers']}x {model['cell']} ({model['impl']}), {model['units']} "
        f"units, embedding {model['embedding_dim']}, "
        f"vocabulary {metrics['vocabulary_size']}",
    )
    epochs = f"{result.epochs_completed}/{config['pretrain']['epochs']}"
    if result.resumed_from_epoch is not None:
        epochs += f" (resumed after epoch {result.resumed_from_epoch})"
    table.add_row("epochs", epochs)
    table.add_row(
        f"held out ({metrics['num_texts']} texts)",
        f"perplexity {metrics['perplexity']:.2f} (uniform guess "
        f"{metrics['uniform_perplexity']})   loss {metrics['loss']:.4f}",
    )
    table.add_row("wall time", f"{result.wall_time_s:.1f} s")
    table.add_row("run folder", str(result.run_dir))
    table.add_row("next", f"textlstm fit --set model.init_from={result.run_dir}")
    title = f"[bold]{config['name']}[/] pretrained"
    console().print(Panel(table, title=title, expand=False))


def metrics_tables(metrics) -> None:
    """`textlstm evaluate`'s summary line, per-class table and confusion matrix."""
    out = console()
    summary = (
        f"[bold]{metrics['split']}[/] ({metrics['num_examples']} texts): "
        f"accuracy [bold]{metrics['accuracy']:.4f}[/]  "
        f"macro-F1 {metrics['macro_f1']:.4f}  loss {metrics['loss']:.4f}"
    )
    if metrics.get("roc_auc") is not None:
        summary += f"  ROC-AUC {metrics['roc_auc']:.4f}"
    out.print(summary)
    per_class = Table("class", "precision", "recall", "F1", "support")
    for name, scores in metrics["per_class"].items():
        per_class.add_row(
            name,
            f"{scores['precision']:.4f}",
            f"{scores['recall']:.4f}",
            f"{scores['f1']:.4f}",
            str(scores["support"]),
        )
    out.print(per_class)
    names = metrics["class_names"]
    matrix = Table("true \\ predicted", *names, title="confusion matrix")
    for name, row in zip(names, metrics["confusion_matrix"]):
        matrix.add_row(name, *(str(count) for count in row))
    out.print(matrix)


def pair_tables(metrics, saved=None) -> None:
    """`textlstm evaluate --pairs`: both sides, consistency, the least moved."""
    out = console()
    out.print(
        f"[bold]{metrics['pairs']}[/] ({metrics['num_pairs']:,} pairs, "
        f"model {metrics['model']})"
    )
    table = Table("", "accuracy", "macro-F1", "texts")
    for side, name in (("originals", "originals"), ("edits", "edited")):
        scores = metrics[side]
        table.add_row(
            name,
            f"{scores['accuracy']:.4f}",
            f"{scores['macro_f1']:.4f}",
            f"{scores['num_examples']:,}",
        )
    out.print(table)
    out.print(
        f"consistency (both right) [bold]{metrics['consistency']:.4f}[/]   "
        f"prediction flips {metrics['flip_rate']:.4f}   "
        f"mean shift towards the edit's label {metrics['mean_shift']:+.4f}"
    )
    least = Table("edit", "label", "predicted", "shift", title="moved least")
    for pair in metrics["least_moved"]:
        least.add_row(
            _shortened(pair["edit"], 70),
            pair["edit_label"],
            pair["predicted"],
            f"{pair['shift']:+.3f}",
        )
    out.print(least)
    if saved is not None:
        out.print(f"saved to {saved}")


def _shortened(text: str, width: int) -> str:
    """One printable line of at most `width` characters."""
    shown = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return shown if len(shown) <= width else shown[: width - 3] + "..."


def prediction_line(record: dict, *, as_json: bool = False) -> str:
    """One line of `textlstm predict`: JSON, or label, probability and text."""
    if as_json:
        return json.dumps(record, ensure_ascii=False)
    best = record["probabilities"][record["label"]]
    # Control characters would drive the terminal; show them as spaces.
    shown = "".join(c if c.isprintable() else " " for c in record["text"][:80])
    shown = shown if len(record["text"]) <= 70 else shown[:67] + "..."
    return f"{record['label']}\t{best:.4f}\t{shown}"


def rows_table(columns, rows) -> Table:
    """A plain table of string rows (presets, config keys)."""
    table = Table(*columns)
    for row in rows:
        table.add_row(*row)
    return table


def key_value_lines(report: dict) -> list[str]:
    """`key  value` lines with aligned values (lists and dicts as JSON)."""
    width = max(len(key) for key in report)
    return [
        f"{key.ljust(width)}  "
        f"{json.dumps(value) if isinstance(value, (list, dict)) else value}"
        for key, value in report.items()
    ]
