"""The two figures a run writes: train.py's learning curve and evaluate.py's confusion matrix.

Usage:
    plots.learning_curve("runs/NAME/learning_curve.png", classifier.history_,
                         classifier.metrics_["best_epochs"])
    plots.confusion_matrix("runs/NAME/confusion_matrix.png", counts, genres, "MLP on ...")
"""
import numpy as np

from dataset.outputs import atomic_output


def pyplot():
    """matplotlib's pyplot, drawing to files only (the Agg backend)."""
    # Imported here: only the figures need matplotlib, and Agg must be chosen before pyplot.
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    return plt


def learning_curve(path, history, best_epochs):
    """Write ``curve_figure`` to ``path`` (PNG)."""
    plt = pyplot()
    _save(plt, curve_figure(history, best_epochs), path)


def curve_figure(history, best_epochs):
    """Train/validation loss and validation scores per epoch, each member's kept epoch
    (``best_epochs``, whatever early stopping watched) marked by a dotted vertical line; an
    ensemble's later members in fainter lines on the same axes."""
    plt = pyplot()
    figure, (losses, f1) = plt.subplots(1, 2, figsize=(10, 4))
    for member in sorted({row["member"] for row in history}):
        rows = [row for row in history if row["member"] == member]
        epochs = [row["epoch"] for row in rows]
        first = member == 0
        style = {"alpha": 1.0 if first else 0.3}
        losses.plot(epochs, [row["train_loss"] for row in rows], color="C0",
                    label="train" if first else None, **style)
        losses.plot(epochs, [row["val_loss"] for row in rows], color="C1",
                    label="validation" if first else None, **style)
        best = best_epochs[member]
        for axes in (losses, f1):
            axes.axvline(best, color="grey", linestyle=":",
                         label=f"kept epoch ({best})" if first else None, **style)
        f1.plot(epochs, [row["val_macro_f1"] for row in rows], color="C2",
                label="macro-F1" if first else None, **style)
        f1.plot(epochs, [row["val_accuracy"] for row in rows], color="C3",
                label="accuracy" if first else None, **style)
    losses.set(xlabel="epoch", ylabel="class-weighted cross-entropy", title="loss")
    losses.legend()
    f1.set(xlabel="epoch", title="validation scores", ylim=(0, 1))
    f1.legend()
    return figure


def confusion_matrix(path, counts, genres, title):
    """Songs per (true, predicted) genre, coloured by the share of the true genre (recall)."""
    plt = pyplot()
    recall = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 2 + 0.6 * len(genres)
    figure, axes = plt.subplots(figsize=(size + 1.5, size))
    image = axes.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(counts):
        if count:
            axes.text(column, row, str(count), ha="center", va="center",
                      color="white" if recall[row, column] > 0.5 else "black", fontsize=8)
    ticks = range(len(genres))
    axes.set_xticks(ticks, genres, rotation=45, ha="right")
    axes.set_yticks(ticks, genres)
    axes.set(xlabel="predicted genre", ylabel="true genre", title=title)
    figure.colorbar(image, label="share of the true genre (recall)")
    _save(plt, figure, path)


def _save(plt, figure, path):
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)
