"""The generic library: models, training, generation, scoring, statistics, result records, plots and the
cost model. Nothing here knows about a notebook, a dataset or the course; it imports only from itself."""
