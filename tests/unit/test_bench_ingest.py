"""The ingest bench reads the shared writes' batch sizes from the service's /metrics."""
from prometheus_client import generate_latest

from bench.ingest_bench import batch_means, parse_write_batches
from killrvideo_reco.metrics import VIEW_WRITE_BATCHES


def test_views_per_statement_during_a_cell_come_from_the_histogram():
    before = parse_write_batches(generate_latest().decode())
    for size in (1, 3, 2):
        VIEW_WRITE_BATCHES.labels("profile").observe(size)
    VIEW_WRITE_BATCHES.labels("counts").observe(4)
    after = parse_write_batches(generate_latest().decode())
    means = batch_means(before, after)
    assert means["profile"] == 2.0
    assert means["counts"] == 4.0
    assert batch_means(after, after) == {}, "no statement during the cell: no figure"
