"""Where the behaviour model is trained: factor models on viewing history, the
content -> behaviour map for new videos, and the ranking weights. Pure computation
(numpy, scipy, implicit, scikit-learn); jobs/train.py reads and writes Cassandra."""
