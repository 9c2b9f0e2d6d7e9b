# The whole pipeline, each step skipped when its output is newer than its inputs and its code.
#   make setup    virtual environment with the pinned requirements
#   make all      extract + labels -> preprocess -> train -> evaluate on the song files in SONGS;
#                 when SONGS does not exist (nothing downloaded yet), the offline demo instead
#   make download the Million Song Subset (~1.8 GB), its Last.fm tags and the mismatch list
#                 into DATA (resumes after a failure or Ctrl-C; skips what is there)
#   make demo     the pipeline, offline, on a generated sample (no download, about a minute)
#   make test     the test suite;  make bench  the benchmarks;  make lint  syntax/style check
# Variables: DATA (data folder), SONGS (song files), LABELS (lastfm, a .cls file, a Last.fm
# dataset folder/zip/db, echonest-terms, musicbrainz-tags, none, or several joined by commas: the
# first that labels a song), GENRE_NAMES (extract --genre-names, e.g.
# dataset/tagtraum_genre_names.tsv to label by tags in tagtraum CD1's genres after a CD1 .cls
# file), TRAIN_ONLY (label sources whose songs only train), MISMATCHES (the
# dataset's list of song-track mismatches, whose tracks extract leaves out; downloaded when
# missing; empty: keep every track), CROPS (extract --crops: training rows cut from each song;
# 0: none), RUN (run folder), WORKERS.
PYTHON  := .venv/bin/python
DATA    ?= data
SONGS   ?= $(DATA)/MillionSongSubset/data
LABELS  ?= $(DATA)/lastfm_subset,echonest-terms
GENRE_NAMES ?=
TRAIN_ONLY ?= echonest-terms musicbrainz-tags
MISMATCHES ?= $(DATA)/sid_mismatches.txt
CROPS   ?= 4
RUN     ?= runs/main
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
SEED    ?= 0

.PHONY: setup all download demo test bench lint pipeline clean-demo
.DELETE_ON_ERROR:

setup: .venv/installed
.venv/installed: requirements.txt requirements-test.txt
	python3 -m venv .venv
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt \
		-r requirements-test.txt
	touch $@

comma := ,
LABEL_FILE := $(filter-out lastfm none echonest-terms musicbrainz-tags,$(subst $(comma), ,$(LABELS)))
# Song files named on the command line (DATA= or SONGS=) must exist; the default folder may not
# (a fresh clone), and then make all runs the demo.
NAMED_SONGS := $(filter command line,$(origin DATA) $(origin SONGS))

all: setup
ifeq ($(wildcard $(SONGS)),)
ifneq ($(NAMED_SONGS),)
	@echo "make all: no song files in $(SONGS) (SONGS=, or DATA= with MillionSongSubset/data in it)"; exit 2
endif
	@echo "make all: no song files in $(SONGS) yet, so running the offline demo on a generated sample;"
	@echo "          'make download' fetches the Million Song Subset (~1.8 GB), then 'make all' runs on it."
	@$(MAKE) --no-print-directory demo
else
	@for f in $(LABEL_FILE) $(MISMATCHES); do test -e "$$f" || { \
		echo "make all: $$f is missing: 'make download' fetches it (or set LABELS= / MISMATCHES=)"; \
		exit 2; }; done
	$(MAKE) pipeline
endif

# The downloads: each skips what is there, and resumes after a failure or Ctrl-C.
download: setup
	$(PYTHON) -m dataset.download msd-subset --dest $(DATA)
	$(PYTHON) -m dataset.download lastfm-subset --dest $(DATA)
	$(PYTHON) -m dataset.download mismatches --dest $(DATA)

# The code the outputs are made by, so that a change to it remakes them as a change to their data
# does: every .py of the project up to two folders deep, wherever a module lives or moves (tests,
# benchmarks and a build's copies aside), and the dataset package's data files. Extract runs the
# dataset package alone; the other scripts import the rest (the library) and none imports another.
CODE := $(filter-out tests/% bench/% build/%,$(wildcard *.py */*.py */*/*.py dataset/*.tsv))
EXTRACT_CODE := $(filter dataset/%,$(CODE))
SCRIPTS := model.py preprocess.py train.py evaluate.py predict.py tune.py
LIBRARY := $(filter-out $(SCRIPTS),$(CODE))

# extract -> preprocess -> train -> evaluate; SongCSV.csv is remade when a song file, the
# label file, the mismatch list or the dataset package is newer than it, and each later output
# when what it is made of, its script or the library is.
pipeline: $(RUN)/metrics.json
$(DATA)/SongCSV.csv: $(SONGS) $(shell find $(SONGS) -type d 2>/dev/null) $(LABEL_FILE) \
		$(MISMATCHES) $(EXTRACT_CODE)
	$(PYTHON) -m dataset.extract $(SONGS) --labels $(LABELS) \
		$(if $(GENRE_NAMES),--genre-names $(GENRE_NAMES)) \
		$(if $(MISMATCHES),--mismatches $(MISMATCHES)) --crops $(CROPS) --out $@ \
		--workers $(WORKERS)

$(DATA)/preprocessed_data.csv: $(DATA)/SongCSV.csv preprocess.py $(LIBRARY)
	$(PYTHON) preprocess.py --data $< --out $@ --split-seed $(SEED) \
		$(if $(TRAIN_ONLY),--train-only $(TRAIN_ONLY))

$(RUN)/model.pt: $(DATA)/preprocessed_data.csv train.py $(LIBRARY)
	$(PYTHON) train.py --data $< --out $(RUN) --seed $(SEED)

$(RUN)/metrics.json: $(RUN)/model.pt $(DATA)/preprocessed_data.csv evaluate.py $(LIBRARY)
	$(PYTHON) evaluate.py --checkpoint $< --data $(DATA)/preprocessed_data.csv --out $@

demo: setup
	$(MAKE) pipeline DATA=data/demo SONGS=data/demo/data LABELS=data/demo/sample_genres.cls \
		MISMATCHES= CROPS=0 RUN=runs/demo

# The generated sample of make demo: dataset.sample writes the songs and their labels at once.
data/demo/data:
	$(PYTHON) -m dataset.sample --dest data/demo
data/demo/sample_genres.cls: data/demo/data

clean-demo:
	rm -rf data/demo runs/demo

test: setup
	$(PYTHON) -m pytest -q

bench: setup
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-scale.txt \
		-r requirements-tune.txt
	$(PYTHON) -m bench.bench_extract --files 1000 --rounds 3
	$(PYTHON) -m bench.bench_engines
	$(PYTHON) -m bench.bench_summary
	$(PYTHON) -m bench.bench_labels
	$(PYTHON) -m bench.label_agreement
	$(PYTHON) -m bench.bench_train --songs 10000
	$(PYTHON) -m bench.real_cv --threads 2
	$(PYTHON) -m bench.select_mlp --sweep
	$(PYTHON) -m bench.learning_curve
	$(PYTHON) -m bench.bench_features

lint: setup
	$(PYTHON) -m pip install --quiet --disable-pip-version-check ruff==0.17.6
	$(PYTHON) -m ruff check --select E,F,W,B --ignore B905 --line-length 100 .
