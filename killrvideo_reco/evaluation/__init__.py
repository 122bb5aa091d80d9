"""Offline recommendation quality on MovieLens (`make eval`): see docs/quality.md.

data       loading MovieLens, rating -> watch mapping, the time-ordered hold-out split
metrics    Recall/NDCG/HitRate@k, coverage, intra-list diversity (pure)
embedding  movie texts and the on-disk embedding cache
loader     writing movies and training watches into Cassandra
methods    the compared recommenders (the For You feed and the baselines)
pipeline   the whole run; report: the table, docs/quality.md and the chart
"""
