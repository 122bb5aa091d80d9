"""The results table, docs/quality.md and the bar chart docs/quality.png."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from killrvideo_reco.evaluation import data, metrics
from killrvideo_reco.evaluation.comparisons import by_key, versus
from killrvideo_reco.evaluation.engine_report import engine_lines
from killrvideo_reco.evaluation.pipeline import MethodResult, RunResult
from killrvideo_reco.evaluation.template import QUALITY_MD

COLUMNS = (("recall", "Recall@10"), ("ndcg", "NDCG@10"), ("hit_rate", "HitRate@10"),
           ("coverage", "Coverage"), ("diversity", "ILD"))


def _rows(methods: list[MethodResult], baseline: MethodResult) -> list[str]:
    rows = []
    for m in methods:
        diff, lo, hi = metrics.paired_bootstrap(m.metrics["ndcg_per_user"],
                                                baseline.metrics["ndcg_per_user"])
        delta = "-" if m is baseline else f"{diff:+.4f} [{lo:+.4f}, {hi:+.4f}]"
        rows.append(f"| {m.name} | " + " | ".join(f"{m.metrics[k]:.4f}" for k, _ in COLUMNS)
                    + f" | {delta} |")
    return rows


def table(result: RunResult, variants: bool | None = None,
          methods: list[MethodResult] | None = None) -> str:
    chosen = methods if methods is not None else [
        m for m in result.methods if variants is None or m.variant == variants]
    if not chosen:
        return "(not measured in this run)"
    head = ["| Method | " + " | ".join(c for _, c in COLUMNS) + " | NDCG@10 - popularity [95% CI] |",
            "|---|" + "---:|" * (len(COLUMNS) + 1)]
    return "\n".join(head + _rows(chosen, by_key(result)["popularity"]))


def neighbour_lines(result: RunResult) -> list[str]:
    """For You against the EASE ceiling; the just-watched source's marginal gain."""
    m, lines = by_key(result), []
    feed = m["foryou"]
    eases = [x for x in result.methods if x.key.startswith("ease_")]
    if eases:
        best = max(eases, key=lambda x: x.metrics["ndcg"])
        _, word, ci = versus(feed, best)
        lines.append(f"**EASE ceiling**: the best EASE ({best.name.split(' (')[0]}) reaches "
                     f"NDCG@10 {best.metrics['ndcg']:.4f}; For You is "
                     f"{feed.metrics['ndcg'] / max(best.metrics['ndcg'], 1e-9):.2f} of it and "
                     f"{word} it ({ci}).")
    if "just_watched_0" in m:
        off = m["just_watched_0"]
        for key in sorted(k for k in m if k.startswith("just_watched_") and k != "just_watched_0"):
            _, word, ci = versus(m[key], off)
            lines.append(f"Just-watched source from the last {key.rsplit('_', 1)[1]} "
                         f"positives: NDCG@10 {m[key].metrics['ndcg']:.4f} vs "
                         f"{off.metrics['ndcg']:.4f} without it; it {word} the feed "
                         f"without it ({ci}).")
    return lines


def verdict(result: RunResult) -> str:
    """Plain sentences: does the feed beat popularity, by how much, against the targets."""
    m = by_key(result)
    feed, popularity = m["foryou"], m["popularity"]
    ours, pop = feed.metrics, popularity.metrics
    beats, _, ci = versus(feed, popularity)
    ratio = ours["ndcg"] / max(pop["ndcg"], 1e-9)
    cover = ours["coverage"] / max(pop["coverage"], 1e-9)
    lines = [
        f"**The For You feed {'beats' if beats else 'does NOT beat'} popularity**: NDCG@10 "
        f"{ours['ndcg']:.4f} vs {pop['ndcg']:.4f} = **{ratio:.2f}x** ({ci}); Recall@10 "
        f"{ours['recall']:.4f} vs {pop['recall']:.4f}, HitRate@10 {ours['hit_rate']:.4f} vs "
        f"{pop['hit_rate']:.4f}; coverage {cover:.1f}x popularity's, ILD {ours['diversity']:.4f} "
        f"vs {pop['diversity']:.4f}.",
        f"Targets: NDCG@10 >= 1.25x popularity with the CI above 0: "
        f"{'met' if ratio >= 1.25 and beats else 'NOT met'}; coverage >= 3x: "
        f"{'met' if cover >= 3 else 'NOT met'}; aim 1.5x: {'met' if ratio >= 1.5 else 'not met'};"
        f" ILD >= popularity's: {'met' if ours['diversity'] >= pop['diversity'] else 'not met'}."]
    for key, label in (("behaviour", "behaviour only"), ("content", "content only")):
        _, word, ci = versus(feed, m[key])
        lines.append(f"Against {label} the feed {word} it ({ci}).")
    lines += neighbour_lines(result) + engine_lines(result)
    return "\n".join(f"- {line}" for line in lines)


def training_section(result: RunResult) -> str:
    t = result.training
    if not t:
        return "(no training run)"
    q = t["quality"]
    holdout = ", ".join(f"{k.removeprefix('ndcg@10 ')} {v}" for k, v in q.items()
                        if k.startswith("ndcg"))
    weights = ", ".join(f"{k} {v:+.2f}" for k, v in q["ranker"].items())
    return (f"Run `{t['runId']}` ({t['model']}, {t['dimension']} factors, slot {t['slot']}): "
            f"{q['positives']} positive watches of {q['viewers']} viewers; {q['trainedVideos']} "
            f"of {q['videos']} videos trained, the rest placed by the content map. It took "
            f"{t['seconds']} s (with the profile rebuild), process peak RSS {t['peakRssMB']} MB.\n"
            f"Ranking weights fitted on the training history's own hold-out: {weights}. "
            f"NDCG@10 on that hold-out (other viewers than the fit's): {holdout}.")


def sensitivity_table(result: RunResult) -> str:
    if not result.sensitivity:
        return "(skipped: --no-variants)"
    lines = ["| Split | Setting | Popularity | Behaviour only | Two-stage | Two-stage / popularity |",
             "|---|---|---:|---:|---:|---:|"]
    for r in result.sensitivity:
        lines.append(f"| {r['split']} | {r['setting']} | {r['popularity']:.4f} | "
                     f"{r['behaviour']:.4f} | {r['two-stage']:.4f} | "
                     f"{r['two-stage'] / max(r['popularity'], 1e-9):.2f}x |")
    return "\n".join(lines)


def shaping_table(result: RunResult) -> str:
    from killrvideo_reco.evaluation.shaping_study import MAX_DROP, default_lambda

    rows = result.shaping
    if not rows:
        return "(skipped: --no-variants)"
    lines = ["| Split | Variant | NDCG@10 | vs unshaped | ILD | Coverage | "
             "Top 10 spans >= 2 interests |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        base = next(b for b in rows if b["split"] == r["split"] and b["lambda"] is None
                    and b["variant"].startswith("two-stage"))
        lines.append(
            f"| {r['split']} | {r['variant']} | {r['ndcg']:.4f} | "
            f"{r['ndcg'] / max(base['ndcg'], 1e-9) - 1:+.1%} | {r['ild']:.3f} | "
            f"{r['coverage']:.1%} | {r['two_interests_in_top10']:.0%} of "
            f"{r['multi_interest_viewers']} |")
    edge = default_lambda(rows)
    lines.append(f"\nLowest lambda within {MAX_DROP:.0%} NDCG@10 of the unshaped ranking on "
                 f"every split: {edge}.")
    return "\n".join(lines)


def cold_table(result: RunResult) -> str:
    c = result.cold
    if not c:
        return "(skipped: --no-variants)"
    rows = [f"| {name} | {c[name]:.4f} |" for name in
            ("behaviour (content map)", "content cosine", "random")]
    return (f"{c['cold_videos']} videos kept out of training; {c['users']} viewers liked at "
            "least one of them in their hold-out. Each viewer's unseen cold videos ranked:\n\n"
            "| Ranking of cold videos | NDCG@10 |\n|---|---:|\n" + "\n".join(rows))


def _dataset_notes(data_dir: Path) -> tuple[str, str]:
    """The README's summary paragraph and its license bullet points, quoted."""
    readme = data_dir / "README.txt"
    if not readme.exists():
        readme = data_dir / "README.md"
    if not readme.exists():
        return "(no README found)", "(no README found)"
    text = readme.read_text(encoding="utf-8")
    summary = text.split("Summary", 1)[-1].lstrip("= \n").split("\n\n", 1)[0].strip()
    license_part = text.split("Usage License", 1)[-1].split("In no event", 1)[0]
    bullets = [line for line in license_part.splitlines() if line.startswith("* ")]
    return summary, "\n".join(bullets[:4])


def write(result: RunResult, docs_dir: Path, command: str,
          elapsed_s: float) -> tuple[Path, Path | None]:
    docs_dir = Path(docs_dir)
    docs_dir.mkdir(parents=True, exist_ok=True)
    png = chart(result, docs_dir / "quality.png")
    s = result.stats
    summary, license_bullets = _dataset_notes(result.config.data_dir)
    timings = "\n".join(f"| {name} | {seconds:.1f} |" for name, seconds in result.timings.items())
    text = QUALITY_MD.format(
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        command=command, elapsed=f"{elapsed_s / 60:.1f} min ({elapsed_s:.0f} s)",
        main_table=table(result, variants=False), variant_table=table(result, variants=True),
        verdict=verdict(result), training=training_section(result),
        sensitivity=sensitivity_table(result), cold=cold_table(result),
        shaping=shaping_table(result), related=table(result, methods=result.related),
        chart="![quality chart](quality.png)" if png else
        "(chart not drawn: matplotlib missing, `pip install -e '.[eval]'`)",
        summary=summary, license=license_bullets, timings=timings,
        sources=", ".join(f"{k}: {v}" for k, v in sorted(result.feed_sources.items())),
        holdout=data.HOLDOUT, min_train=data.MIN_TRAIN, relevant=data.RELEVANT_RATING,
        duration_min=data.DURATION_S // 60, skipped_few=s["skipped"]["too_few_ratings"],
        skipped_norel=s["skipped"]["no_relevant_heldout"], **{
            k: s[k] for k in ("movies", "ratings", "users_total", "users_kept",
                              "users_evaluated", "train_watches", "model_id", "keyspace",
                              "feed_returned_watched", "short_feed_lists")},
        relevant_per_user=f"{s['relevant_per_user']:.2f}",
        ann_agreement=f"{s['ann_agreement']:.1%}", embed_seconds=(
            f"{s['embed_seconds']:.0f}" if s["embed_seconds"] == s["embed_seconds"] else "?"),
        with_profile=s["profiles"]["withProfile"],
        cached="yes (cache hit)" if s["embeddings_cached"] else "no (embedded this run)",
        params=s.get("params", ""))
    md = docs_dir / "quality.md"
    md.write_text(text + _online_section(md), encoding="utf-8")
    return md, png


def _online_section(md: Path) -> str:
    """`make simulate`'s section (docs/quality.md "Online evaluation"), kept as it was:
    this run does not measure it."""
    old = md.read_text(encoding="utf-8") if md.exists() else ""
    at = old.find("\n## Online evaluation")
    return "\n" + old[at:].lstrip("\n") if at >= 0 else ""


def chart(result: RunResult, path: Path) -> Path | None:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt
    import numpy as np

    methods = result.methods[::-1]  # first method on top
    names = [m.name + (" *" if m.variant else "") for m in methods]
    y = np.arange(len(methods))
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.42 * len(methods) + 1.8), sharey=True)
    panels = ((axes[0], COLUMNS[:3], "accuracy (higher is better)"),
              (axes[1], COLUMNS[3:], "beyond accuracy"))
    for ax, cols, title in panels:
        height = 0.8 / len(cols)
        for j, (key, label) in enumerate(cols):
            ax.barh(y + (j - (len(cols) - 1) / 2) * height,
                    [m.metrics[key] for m in methods], height, label=label)
        ax.set_title(title)
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, names, fontsize=8)
    fig.suptitle(f"MovieLens ml-latest-small, {result.stats['users_evaluated']} users, "
                 f"top-10 (* = variant)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
