"""The learning half: from a song table to a trained genre classifier and its scores.

Tables on disk (tablefiles), feature choice (featurecolumns), cleaning (cleaning), the rows rule,
splits and folds (splitting); the network (network), the estimator (classifier) with its training
loop (training), input transforms (transforms) and checkpoint (checkpoint); the scripts' shared
options (options), scores and baselines (scoring), plots, provenance and the model card.
The scripts at the repository's root (preprocess.py, train.py, evaluate.py, predict.py,
tune.py) are thin shells over it; the data half is the package ``dataset``.
"""
