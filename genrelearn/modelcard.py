"""The model card: a Markdown page beside model.pt that says what the model is, what it learned
from, how sure its scores are and what it should not be used for.

Usage:
    from genrelearn import modelcard
    modelcard.write(run / "MODEL_CARD.md", classifier)            # train.py: from the record
    modelcard.write(run / "MODEL_CARD.md", classifier, report)    # evaluate.py adds the test

Everything on the card comes from the checkpoint's own record (GenreClassifier.load: its
provenance_, metrics_ and parameters) and, once evaluate.py has run, from its report: a card
is written whole each time, so it never mixes two models.
"""
import datetime
from pathlib import Path

from dataset.outputs import atomic_output

CARD = "MODEL_CARD.md"
TITLES = {"model": "MLP (this model)", "soft_vote": "MLP + HGB soft vote",
          "majority": "majority class", "logistic_regression": "logistic regression",
          "hist_gradient_boosting": "HistGradientBoosting"}
LIMITS = """\
- Songs of one artist share a producer and a sound: a model scored on songs whose artists it
  trained on looks better than it is (the producer effect). This model's validation and test
  splits keep artists apart, and evaluate.py refuses a table whose test songs it learned from;
  keep it that way when you score it elsewhere.
- Genres are tags: last.fm users' and tagtraum's, often given to an artist rather than a song,
  noisy and unevenly spread (the most common genre's share is the accuracy of always saying
  it). A few hundred test songs move a score by points: read the intervals, not the digits.
- The features are the Echo Nest's analysis in the Million Song Dataset (timbre, pitch,
  loudness and rhythm statistics, song-level fields), not audio: songs outside the MSD, or
  analysed otherwise, are outside what it learned.
- It names one of the genres of its training songs (Data), whatever the song: it is not a
  judgement of an artist or a song, and it should not be used to decide anything about
  people.
- How it compares with other learners on the project's artist-disjoint cross-validation of the
  real subset: docs/results.md (`python -m bench.real_cv`)."""


def write(path, classifier, report=None, data=None, run=None):
    """Write the card of ``classifier`` (a GenreClassifier loaded from its checkpoint) to
    ``path``, with the test section of evaluate.py's ``report`` on the table ``data`` when
    given. ``run`` names the run in the title (default: the folder holding ``path``; train.py
    writes into a temporary folder, and names the run it becomes)."""
    sections = [_header(run or Path(path).resolve().parent.name, classifier), _data(classifier),
                _configuration(classifier), _validation(classifier), _code(classifier),
                "## Limits\n\n" + LIMITS]
    if report is not None:
        sections.append(_test(report, data))
    with atomic_output(path) as temporary:
        temporary.write_text("\n\n".join(sections) + "\n")


def _header(run, classifier):
    return (f"# Model card: {run}\n\n"
            f"A genre classifier of Million Song Dataset songs: an ensemble of "
            f"{classifier.ensemble} four-layer ReLU MLP(s) of widths "
            f"{'-'.join(map(str, classifier.hidden))} on {classifier.n_features_in_} features, "
            f"naming one of {len(classifier.classes_)} genres. Written by train.py from the "
            "checkpoint's record; evaluate.py adds the test section.")


def _data(classifier):
    record, metrics = classifier.provenance_, classifier.metrics_
    table = record.get("table") or {}
    lines = ["## Data", ""]
    if table:
        seed = table.get("split_seed")
        lines.append(f"- Table: `{table['path']}`, {table['rows']:,} rows, SHA-256 "
                     f"`{table['sha256'][:16]}…`; split seed "
                     f"{'unknown' if seed is None else seed} (artist-disjoint).")
        if table.get("label_sources"):
            lines.append("- Label sources of the songs that train or validate: " + ", ".join(
                f"{source or 'none'} {count:,}" for source, count in
                sorted(table["label_sources"].items(), key=lambda item: -item[1])) + ".")
    else:
        lines.append("- Table: not recorded (fitted outside train.py).")
    lines.append(f"- Trained on {metrics['n_train']:,} rows, of which "
                 f"{metrics.get('n_train_only', 0):,} only train (songs with weaker labels, "
                 f"songs' crops); early stopping and the prior correction on "
                 f"{metrics['n_val']:,} validation songs.")
    songs = classifier.learned_songs_
    if songs is not None:
        lines.append(f"- It records the {len(songs['train']):,} songs it trained on and the "
                     f"{len(songs['val']):,} it validated on: evaluate.py will not score it on "
                     "them, predict.py marks them (`learned_from`).")
    genres = metrics.get("train_genres")
    if genres:
        total = sum(genres.values())
        lines += ["", "| genre | training songs | share |", "|---|---:|---:|"]
        lines += [f"| {genre} | {count:,} | {count / total:.1%} |"
                  for genre, count in sorted(genres.items(), key=lambda item: -item[1])]
    return "\n".join(lines)


def _configuration(classifier):
    metrics = classifier.metrics_
    parameters = classifier.get_params()
    lines = ["## Configuration", "", "| parameter | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in parameters.items()
              if name != "verbose"]
    lines += ["", f"Batch size used: {metrics['batch_size']}, learning rate "
                  f"{metrics['lr']:.4g}; prior correction chosen: "
                  f"{classifier.prior_correction_}."]
    return "\n".join(lines)


def _validation(classifier):
    metrics = classifier.metrics_
    return ("## Validation\n\n"
            f"Accuracy {metrics['val_accuracy']:.3f}, macro-F1 {metrics['val_macro_f1']:.3f} "
            f"on {metrics['n_val']:,} validation songs (the epochs and the prior correction "
            f"were chosen on them, so these flatter the model: the test section does not). "
            f"Best epoch of each network: {', '.join(map(str, metrics['best_epochs']))} of "
            f"{metrics['epochs_run']} run; {metrics['train_seconds']:.0f} s on "
            f"{metrics['device']}.")


def _code(classifier):
    code = classifier.provenance_.get("code") or {}
    if not code:
        return "## Code\n\nNot recorded."
    packages = ", ".join(f"{name} {version}" for name, version in code["packages"].items()
                         if version)
    return (f"## Code\n\nCommit {code['commit'] or 'unknown (not a git checkout)'}; Python "
            f"{code['python']}; {packages}.")


def _test(report, data):
    intervals = report["intervals"]
    lines = [f"## Test (evaluate.py, {datetime.date.today().isoformat()})", "",
             f"{report['n_test']:,} test songs of {report['test_artists']:,} artists in "
             f"`{data}`, never learned from. 95 % intervals from {report['resamples']:,} "
             "resamples of the test artists (each with all its songs). Baselines fitted on "
             f"{report['baseline_train_songs']:,} of the train split's "
             f"{report['train_songs']:,} songs.", "",
             "| method | accuracy | macro-F1 | balanced accuracy |", "|---|---|---|---|"]
    methods = [("model", report["model"])] + (
        [("soft_vote", report["soft_vote"])] if "soft_vote" in report else []) + list(
        report["baselines"].items())
    for name, scores in methods:
        cells = [f"{scores[metric]:.3f} [{intervals[name][metric][0]:.3f}, "
                 f"{intervals[name][metric][1]:.3f}]"
                 for metric in ("accuracy", "macro_f1", "balanced_accuracy")]
        lines.append(f"| {TITLES[name]} | " + " | ".join(cells) + " |")
    calibration = report["calibration"]
    lines += ["", f"Calibration of the MLP's probabilities: log-loss "
                  f"{calibration['log_loss']:.3f}, expected calibration error "
                  f"{calibration['expected_calibration_error']:.3f} (15 bins of the top "
                  "probability).", "", "### Per genre", "",
              "| genre | precision | recall | F1 | test songs |", "|---|---:|---:|---:|---:|"]
    for genre in report["classes"]:
        row = report["per_genre"][genre]
        lines.append(f"| {genre} | {row['precision']:.3f} | {row['recall']:.3f} | "
                     f"{row['f1-score']:.3f} | {int(row['support'])} |")
    lines += ["", "### Confusion matrix (rows: true genre, columns: predicted)", "",
              "| | " + " | ".join(report["classes"]) + " |",
              "|---|" + "---:|" * len(report["classes"])]
    lines += [f"| {genre} | " + " | ".join(str(int(count)) for count in row) + " |"
              for genre, row in zip(report["classes"], report["confusion"])]
    return "\n".join(lines)
