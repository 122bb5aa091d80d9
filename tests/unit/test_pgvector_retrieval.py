"""The pure logic behind the pgvector side-by-side (bench/retrieval.py): no database."""
from __future__ import annotations

import itertools
import struct
import uuid

import numpy as np
import pytest

from bench import retrieval
from killrvideo_reco.domain import feed_rules
from killrvideo_reco.service import retrieval as feed_retrieval


def ids(n):
    return [uuid.UUID(int=i + 1) for i in range(n)]


def test_exclusion_list_keeps_the_first_distinct_ids_up_to_the_cap():
    watched = ids(7000)
    listed = retrieval.exclusion_list(watched + watched[:10])
    assert listed == watched[:5000]
    assert len(retrieval.exclusion_list(watched, cap=None)) == 7000
    assert retrieval.exclusion_list([watched[2], watched[1], watched[2]], cap=10) == [
        watched[2], watched[1]]


def test_peer_sql_binds_one_parameter_per_excluded_id_and_omits_an_empty_not_in():
    assert "WHERE" not in retrieval.peer_sql(0)
    sql = retrieval.peer_sql(3)
    assert "NOT IN (%s, %s, %s)" in sql
    assert sql.count("%s") == 3 + 2
    assert sql.endswith("ORDER BY embedding <=> %s::vector LIMIT %s")


def test_vector_literal_round_trips_float32():
    v = np.array([0.1, -2.5, 3e-8], dtype=np.float32)
    text = retrieval.vector_literal(v)
    assert text.startswith("[") and text.endswith("]")
    assert np.array_equal(np.array(text[1:-1].split(","), dtype=np.float32), v)


def test_exact_top_k_is_the_brute_force_order_minus_the_whole_history():
    rng = np.random.default_rng(1)
    vectors = retrieval.unit_rows(rng.normal(size=(500, 16)))
    profile = rng.normal(size=16)
    watched = list(range(0, 500, 3))
    got = retrieval.exact_top_k(vectors, profile, watched, 10)
    scores = vectors @ (profile / np.linalg.norm(profile))
    expected = [i for i in np.argsort(-scores) if i not in set(watched)][:10]
    assert got == expected
    assert not set(got) & set(watched)


def test_exact_top_k_many_agrees_with_one_viewer_at_a_time():
    rng = np.random.default_rng(2)
    vectors = retrieval.unit_rows(rng.normal(size=(300, 8)))
    profiles = rng.normal(size=(5, 8))
    watched = [list(rng.choice(300, size=n, replace=False)) for n in (0, 10, 50, 299, 300)]
    many = retrieval.exact_top_k_many(vectors, profiles, watched, 10, chunk=2)
    assert many == [retrieval.exact_top_k(vectors, p, w, 10) for p, w in zip(profiles, watched)]
    assert len(many[3]) == 1 and many[4] == []


def test_exact_top_k_breaks_ties_by_row_and_returns_what_is_left():
    vectors = np.tile(np.array([[1.0, 0.0]], dtype=np.float32), (6, 1))
    assert retrieval.exact_top_k(vectors, np.array([1.0, 0.0]), [0, 2], 3) == [1, 3, 4]
    assert retrieval.exact_top_k(vectors, np.array([1.0, 0.0]), [0, 1, 2, 3], 10) == [4, 5]
    assert retrieval.exact_top_k(vectors, np.array([1.0, 0.0]), range(6), 10) == []


def test_recall_counts_missing_rows_as_misses():
    exact = ids(10)
    assert retrieval.recall_at_k(exact, exact, 10) == 1.0
    assert retrieval.recall_at_k(exact[:4], exact, 10) == 0.4
    assert retrieval.recall_at_k(list(reversed(exact)), exact, 10) == 1.0
    assert retrieval.recall_at_k(ids(20)[10:], exact, 10) == 0.0
    assert retrieval.recall_at_k(exact + ids(30)[20:], exact, 10) == 1.0  # only the first k
    with pytest.raises(ValueError):
        retrieval.recall_at_k(exact, exact, 0)


def test_similarity_ratio_is_one_for_the_exact_answer_and_less_for_worse_or_short_ones():
    rng = np.random.default_rng(5)
    vectors = retrieval.unit_rows(rng.normal(size=(200, 8)))
    profile = rng.normal(size=8)
    exact = retrieval.exact_top_k(vectors, profile, [], 10)
    assert retrieval.similarity_ratio(exact, exact, vectors, profile, 10) == pytest.approx(1.0)
    worse = retrieval.exact_top_k(vectors, profile, exact, 10)
    assert 0 < retrieval.similarity_ratio(worse, exact, vectors, profile, 10) < 1
    short = retrieval.similarity_ratio(exact[:5], exact, vectors, profile, 10)
    assert 0 < short < 0.75
    assert retrieval.similarity_ratio([], exact, vectors, profile, 10) == 0.0


def test_watched_count_looks_at_the_first_k_only():
    answer = ids(12)
    assert retrieval.watched_count(answer, set(answer[8:]), 10) == 2


def test_needs_widening_is_the_services_rule():
    for limit, found, fresh in itertools.product((50, 800, 1000), (0, 49, 50, 800, 1000),
                                                 (0, 10, 12, 13, 24, 25, 26, 50, 500)):
        if fresh > found:
            continue
        cap = feed_retrieval.MAX_ANN_LIMIT
        assert retrieval.needs_widening(found, fresh, limit, cap) == \
            feed_rules.source_short(found, fresh, limit, limit, cap), (limit, found, fresh)
        assert retrieval.needs_widening(found, fresh, limit, cap, 20) == \
            feed_rules.source_short(found, fresh, limit, 20, cap), (limit, found, fresh)
        # A full answer under the cap with fewer than a quarter of the rows wanted fresh.
        assert retrieval.needs_widening(found, fresh, limit, cap, 52) == \
            (found >= limit and fresh < 13 and limit < cap), (limit, found, fresh)


def test_first_fresh_keeps_the_ann_order():
    found = ids(6)
    assert retrieval.first_fresh(found, {found[0], found[3]}, 3) == [found[1], found[2], found[4]]


def test_binary_copy_payload_is_postgres_binary_copy_with_pgvector_values():
    vids = ids(3)
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    data = retrieval.binary_copy_payload(vids, vectors)
    assert data.startswith(retrieval.PG_COPY_SIGNATURE)
    pos = len(retrieval.PG_COPY_SIGNATURE) + 8
    for row in range(3):
        fields, id_len = struct.unpack_from(">hi", data, pos)
        assert (fields, id_len) == (2, 16)
        assert uuid.UUID(bytes=data[pos + 6:pos + 22]) == vids[row]
        vec_len, dim, unused = struct.unpack_from(">ihh", data, pos + 22)
        assert (vec_len, dim, unused) == (4 + 16, 4, 0)
        values = np.frombuffer(data, dtype=">f4", count=4, offset=pos + 30)
        assert np.array_equal(values.astype(np.float32), vectors[row])
        pos += 30 + 16
    assert data[pos:] == struct.pack(">h", -1)
    with pytest.raises(ValueError):
        retrieval.binary_copy_payload(vids[:2], vectors)


def test_long_history_is_distinct_and_mostly_near_the_favourites():
    rng = np.random.default_rng(3)
    vectors = retrieval.unit_rows(rng.normal(size=(2000, 8)))
    watched = retrieval.long_history(np.random.default_rng(9), vectors, 600)
    assert len(watched) == 600 == len(set(watched.tolist()))
    again = retrieval.long_history(np.random.default_rng(9), vectors, 600)
    assert np.array_equal(watched, again)
    profile = retrieval.unit_rows(vectors[watched].mean(axis=0))
    # The nearest videos to such a viewer's profile are mostly ones they watched.
    nearest = np.argsort(-(vectors @ profile))[:50]
    assert np.isin(nearest, watched).mean() > 0.6
    with pytest.raises(ValueError):
        retrieval.long_history(rng, vectors, 2001)


def test_the_pgvector_block_is_added_once_and_then_replaced(tmp_path):
    from bench.pgvector_report import BEGIN, END, HEADING, update_doc

    doc = tmp_path / "benchmarks.md"
    feed = "<!-- feed:begin -->\nfeed\n<!-- feed:end -->"
    doc.write_text(f"# Benchmarks\n\n## Feed latency\n\n{feed}\n")
    update_doc(doc, "first")
    update_doc(doc, "second")
    text = doc.read_text()
    assert text.count(HEADING) == 1 and text.count(BEGIN) == 1 and text.count(END) == 1
    assert f"{BEGIN}\nsecond\n{END}" in text and "first" not in text
    assert feed in text
