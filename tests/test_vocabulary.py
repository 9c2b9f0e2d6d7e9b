"""One vocabulary (issue 31): the scripts name the same thing the same way, with one help line;
an option's old name still works, with a note; lists take spaces, commas or both; and every
option the README and docs/ name exists in the script it is used with.

Each script's parser is read through its build_parser(), without running the script."""
import argparse
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from test_docs import PAGES, page_id, prose_and_code

import evaluate
import model
import predict
import preprocess
import train
import tune
from dataset import cli, extract, labels
from genrelearn import options
from genrelearn.classifier import GenreClassifier

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {"preprocess.py": preprocess, "train.py": train, "evaluate.py": evaluate,
           "predict.py": predict, "tune.py": tune, "dataset.extract": extract, "model.py": model}
WRITERS = [script for script in SCRIPTS if script != "model.py"]  # model.py only shows
# The options that mean the same thing wherever they appear: one help line (the default aside).
SHARED = ("--data", "--threads", "--device", "--seed", "--config", "--checkpoint", "--quiet")
# Each script's renamed options: old name -> new name.
RENAMED = {
    "preprocess.py": {"--input": "--data", "--output": "--out"},
    "train.py": {"--val-fraction": "--holdout-fraction",
                 "--validation-fraction": "--holdout-fraction"},
    "evaluate.py": {"--json": "--out", "--seed": "--baseline-seed"},
    "predict.py": {"--csv": "--out"},
    "tune.py": {"--top": "--show", "--val-fraction": "--holdout-fraction",
                "--validation-fraction": "--holdout-fraction"},
}
# The old names no script offers any more, under any meaning.
RETIRED = {"--input", "--output", "--csv", "--json", "--validation-fraction"}
DEFAULT = re.compile(r"\s*\(default: [^)]*\)$")


def parser_of(script):
    return SCRIPTS[script].build_parser()


def visible_options(parser):
    """{option string: action} of the options --help shows."""
    return {name: action for name, action in parser._option_string_actions.items()
            if action.help is not argparse.SUPPRESS}


def help_line(action):
    """An option's help without its default, which may differ from script to script."""
    return DEFAULT.sub("", action.help)


@pytest.mark.parametrize("name", SHARED)
def test_a_shared_option_has_one_help_line_everywhere(name):
    lines = {script: help_line(visible_options(parser_of(script))[name])
             for script in SCRIPTS if name in visible_options(parser_of(script))}
    assert len(lines) >= 2, f"{name} is in {list(lines)} only"
    assert len(set(lines.values())) == 1, lines


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_writes_to_out_and_lays_out_help_alike(script):
    parser = parser_of(script)
    assert ("--out" in visible_options(parser)) == (script in WRITERS)
    assert parser.formatter_class is cli.HelpFormatter
    assert parser.description == SCRIPTS[script].__doc__.split("\n\n")[0]


@pytest.mark.parametrize("script", SCRIPTS)
def test_no_script_offers_an_old_name(script):
    shown = visible_options(parser_of(script))
    assert not shown.keys() & (RETIRED | set(RENAMED.get(script, {})))


@pytest.mark.parametrize("script, old, new, value", [
    ("preprocess.py", "--input", "--data", "songs.csv"),
    ("preprocess.py", "--output", "--out", "table.parquet"),
    ("predict.py", "--csv", "--out", "genres.csv"),
    ("evaluate.py", "--json", "--out", "metrics.json"),
    ("evaluate.py", "--seed", "--baseline-seed", "3"),
    ("tune.py", "--top", "--show", "7"),
    ("train.py", "--val-fraction", "--holdout-fraction", "0.2"),
])
def test_an_old_name_still_works_with_a_one_line_note(script, old, new, value, capsys):
    positional = ["song.h5"] if script == "predict.py" else []
    assert RENAMED[script][old] == new
    with_new = parser_of(script).parse_args([new, value, *positional])
    assert capsys.readouterr().err == ""
    with_old = parser_of(script).parse_args([old, value, *positional])
    assert capsys.readouterr().err == (f"note: {old} is now {new} "
                                       "(the old name still works for now)\n")
    assert with_old == with_new


def test_train_val_fraction_sets_the_holdout_fraction(capsys):
    _, parameters = train.parse_args(["--val-fraction", "0.2"])
    assert parameters["holdout_fraction"] == 0.2
    assert "note: --val-fraction is now --holdout-fraction" in capsys.readouterr().err


def test_preprocess_runs_with_its_old_names(tmp_path, capsys):
    from songs import synthetic_songcsv
    songs, table = tmp_path / "SongCSV.csv", tmp_path / "table.csv"
    synthetic_songcsv().to_csv(songs, index=False)
    assert preprocess.main(["--input", str(songs), "--output", str(table)]) == 0
    printed = capsys.readouterr()
    assert printed.err.count("note: ") == 2 and f"wrote {table}" in printed.out
    assert table.is_file()


@pytest.mark.parametrize("values", [["a", "b"], ["a,b"], ["a,", "b"], ["a", ",", "b"], ["a, b"]])
def test_a_list_takes_spaces_commas_or_both(values):
    assert preprocess.parse_args(["--train-only", *values]).train_only == ["a", "b"]


def test_lists_keep_their_order_and_type():
    args = extract.parse_args(["songs", "--labels", "echonest-terms,lastfm", "musicbrainz-tags"])
    assert args.labels == ["echonest-terms", "lastfm", "musicbrainz-tags"]
    assert train.parse_args(["--hidden", "16,8", "4"])[1]["hidden"] == (16, 8, 4)
    assert tune.parse_args(["--objective", "accuracy,macro_f1"])[0].objective == [
        "accuracy", "macro_f1"]


def test_a_labels_path_with_a_comma_is_one_source(tmp_path):
    cls = tmp_path / "genres, mine.cls"
    cls.touch()
    assert extract.parse_args(["songs", "--labels", str(cls), "echonest-terms"]).labels == [
        str(cls), "echonest-terms"]
    assert labels.source_names([str(cls), "echonest-terms"]) == [str(cls), "echonest-terms"]


@pytest.mark.parametrize("script, argv, complaint", [
    ("preprocess.py", ["--features", "a,,b"], "argument --features: an empty item in 'a,,b'"),
    ("train.py", ["--hidden", "16,x"], "argument --hidden: invalid int value: 'x'"),
    ("tune.py", ["--objective", "accuracy,speed"], "invalid choice: 'speed'"),
])
def test_a_bad_list_is_one_line(script, argv, complaint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parser_of(script).parse_args(argv)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
@pytest.mark.parametrize("script, argv", [("evaluate.py", []), ("predict.py", ["song.h5"])])
def test_a_device_that_is_not_here_is_one_line(script, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        SCRIPTS[script].parse_args(["--device", "cuda", *argv])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "error: --device is cuda but no CUDA device is available")


def test_old_parameter_names_load_from_a_json_config(tmp_path):
    config = tmp_path / "best.json"
    config.write_text('{"val_fraction": 0.25, "validation-fraction": 0.3}')
    assert options.read_parameters(config) == {"holdout_fraction": 0.3}


def test_a_checkpoint_with_val_fraction_loads_and_predicts_on_the_cpu(tmp_path):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 3)).astype(np.float32)
    genres = np.where(features[:, 0] > 0, "rock", "jazz")
    fitted = GenreClassifier(hidden=(4,), epochs=2, ensemble=1, holdout_fraction=0.3).fit(
        features, genres, groups=np.arange(60) // 3)
    fitted.save(tmp_path / "model.pt")
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    checkpoint["config"]["val_fraction"] = checkpoint["config"].pop("holdout_fraction")
    torch.save(checkpoint, tmp_path / "old.pt")
    loaded = GenreClassifier.load(tmp_path / "old.pt").predict_on("cpu")
    assert loaded.get_params() == fitted.get_params()
    assert np.array_equal(loaded.predict_proba(features), fitted.predict_proba(features))


# The documented-options check. Commands start at python, make or pip; a command names a script
# as `python train.py`, `python -m dataset.extract`, or in a span `train.py`, `extract`; the
# options after the name are that script's. A span of options alone (`--crops 4`) names options
# of some script, the other dataset commands' or a benchmark's.
COMMAND_START = re.compile(r"\bpython3?\b|\bmake\b|\bpip\b|&&")
SCRIPT = re.compile(r"(?:^|\s)(?:((?:model|preprocess|train|evaluate|predict|tune)\.py)"
                    r"|-m (dataset\.extract)|^\s*(extract))\b")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
INLINE = re.compile(r"`([^`]+)`")  # may wrap lines
OTHER_COMMANDS = [ROOT / "dataset" / "download.py", ROOT / "dataset" / "sample.py",
                  *sorted((ROOT / "bench").glob("*.py"))]


def documented_commands(page):
    """(line number, the line, text, section) of every command in ``page``: code lines (a line
    ending in a backslash joined with the next; section None) and inline code spans (a span may
    wrap lines; section: the script whose section it is in, as training.md's "### train.py",
    else "")."""
    held, start, section, prose = "", None, "", []
    for number, line, in_code in prose_and_code(page):
        if not in_code:
            if line.startswith("#"):  # a heading: a script's section, or another one
                title = line.lstrip("#").strip()
                section = title if title in SCRIPTS else ""
            prose.append((number, line, section))
            continue
        held, start = held + line, start or number
        if line.rstrip().endswith("\\"):
            held = held.rstrip()[:-1] + " "
            continue
        yield start, held, held, None
        held, start = "", None
    text = "\n".join(line for _, line, _ in prose)
    for span in INLINE.finditer(text):
        number, line, section = prose[text.count("\n", 0, span.start())]
        yield number, line, span.group(1).replace("\n", " "), section


def script_options(text):
    """[(script, [option, ...])] of each command in ``text`` that names a script."""
    found = []
    for command in COMMAND_START.split(text):
        named = SCRIPT.search(command)
        if named:
            script = named.group(1) or "dataset.extract"
            found.append((script, OPTION.findall(command[named.end():])))
    return found


def other_options():
    """Options of the commands that are not scripts: every "--option" in their source."""
    return {option for path in OTHER_COMMANDS
            for option in re.findall(r"[\"'](--[a-z][a-z0-9-]*)[\"']", path.read_text())}


def documents_a_rename(line, option):
    """Whether ``line`` says that ``option`` was renamed: it names the new name too."""
    return any(old == option and re.search(re.escape(new) + r"(?![\w-])", line)
               for renamed in RENAMED.values() for old, new in renamed.items())


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_documented_option_exists(page):
    shown = {script: visible_options(parser_of(script)) for script in SCRIPTS}
    anywhere = set().union(*shown.values()) | other_options()
    wrong = []
    for number, line, text, section in documented_commands(page):
        for script, named in script_options(text):
            wrong += [f"{page_id(page)}:{number}: {script} has no {option}"
                      for option in named if option not in shown[script]
                      and not documents_a_rename(line, option)]
        if section is not None and text.startswith("--"):
            known = shown[section] if section else anywhere - RETIRED
            wrong += [f"{page_id(page)}:{number}: " + (f"{section} has no {option}" if section
                                                        else f"no script has {option}")
                      for option in OPTION.findall(text)
                      if option not in known and not documents_a_rename(line, option)]
    assert not wrong, "\n".join(wrong)


def test_the_documented_option_check_sees_options():
    # A check that finds nothing proves nothing: the README's extract and predict lines are seen.
    seen = [found for _, _, text, _ in documented_commands(ROOT / "README.md")
            for found in script_options(text)]
    assert ("dataset.extract", ["--labels", "--mismatches", "--crops"]) in seen
    assert any(script == "predict.py" and "--top" in named for script, named in seen)
