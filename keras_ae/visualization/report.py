"""One evaluation report for a run: the numbers of `evaluate_model` as terminal tables and as a
single self-contained HTML file (figures embedded as base64 PNG, no external files)."""

from __future__ import annotations

import base64
import datetime
import html
import io
import os
from collections.abc import Sequence
from typing import Any

from keras_ae.utils.io import atomic_path

__all__ = ["figure_png", "format_tables", "render_html", "report_figures", "tables", "write_report"]

CLUSTERING_ROWS = (("codes", "k-means on the codes"),
                   ("codes_umap", "k-means on a UMAP embedding of the codes"),
                   ("pixels", "k-means on raw pixels"), ("pca", "k-means on PCA"))
PROBE_ROWS = (("probe_codes", "logistic regression on the codes"),
              ("probe_pixels", "logistic regression on raw pixels"),
              ("fine_tuned", "encoder + softmax, fine-tuned from the trained encoder"),
              ("from_scratch", "encoder + softmax, trained from scratch"))

WORST_IMAGES = 8  # the worst-scored images the report shows with their error maps

Table = tuple[str, list[str], list[list[str]]]
"""A titled table: (title, header, rows of cells)."""


def _reconstruction_table(r: dict) -> Table:
    header = ["metric", "model"] + ([f"PCA-{r['pca']['components']}"] if "pca" in r else [])
    rows = []
    for key, name, fmt in (("mse", "per-pixel MSE", "{:.5f}"), ("bce", "per-pixel BCE", "{:.4f}"),
                           ("psnr", "PSNR (dB)", "{:.2f}")):
        if key in r:
            rows.append([name, fmt.format(r[key])]
                        + ([fmt.format(r["pca"][key]) if key in r["pca"] else "-"]
                           if "pca" in r else []))
    if "nll" in r:
        pad = ["-"] if "pca" in r else []
        rows.append(["-ELBO, nats", f"{r['neg_elbo']:.2f}"] + pad)
        rows.append([f"NLL (k={r['nll_samples']}), nats", f"{r['nll']:.2f}"] + pad)
    if "code_bits" in r:
        pad = ["-"] if "pca" in r else []
        rows.append(["code, bits per image", f"{r['code_bits']:.0f}"] + pad)
        rows.append(["code entropy, bits per image", f"{r['code_entropy_bits']:.1f}"] + pad)
        rows.append(["codebook usage", f"{r['codebook_usage']:.1%}"] + pad)
        rows.append(["codebook perplexity", f"{r['perplexity']:.1f}"] + pad)
    return f"Reconstruction of {r['images']} held-out images", header, rows


def tables(results: dict) -> list[Table]:
    """The report's tables for the results of `evaluate_model`: reconstruction (with the PCA
    baseline and the VAE's likelihood), clustering and few-label probes when present."""
    out = [_reconstruction_table(results)]
    if "clustering" in results:
        c = results["clustering"]
        k = c["codes"]["k"]
        out.append((f"Clustering: k-means with k = {k}, scored against the labels",
                    ["features", "dims", "accuracy", "NMI"],
                    [[name, str(c[key]["dims"]), f"{c[key]['accuracy']:.3f}",
                      f"{c[key]['nmi']:.3f}"] for key, name in CLUSTERING_ROWS if key in c]))
    if "probes" in results:
        p = results["probes"]
        fewest, most = p["fewest_labels_of_a_class"], p["labels_per_class"]
        per_class = str(most) if fewest == most else f"{fewest}-{most}"
        out.append((f"Few labels: {per_class} per class ({p['labelled_images']} "
                    "training images), accuracy on the held-out images",
                    ["classifier", "accuracy"],
                    [[name, f"{p[key]:.3f}"] for key, name in PROBE_ROWS if key in p]))
    return out


def format_tables(results: dict) -> str:
    """The tables as aligned plain text for a terminal."""
    blocks = []
    for title, header, rows in tables(results):
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

        def line(cells: list[str]) -> str:  # names left-aligned, numbers right-aligned
            return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(cells, widths)))

        blocks.append("\n".join([title, "  " + line(header),
                                 *("  " + line(row) for row in rows)]))
    if "features_skipped" in results:
        blocks.append(f"(features: {results['features_skipped']})")
    return "\n\n".join(blocks)


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def report_figures(model, images, labels=None) -> list[tuple[str, Any]]:
    """The report's figures, as (caption, matplotlib figure) pairs."""
    from keras_ae.visualization import plots
    from keras_ae.visualization import report_figures as figures

    out = [("Held-out images (top) and their reconstructions (bottom), with per-pixel MSE",
            figures.reconstructions(model, images))]
    out.append(("Held-out codes in 2-D" + (", coloured by label" if labels is not None else ""),
                figures.latent_scatter(model, images, labels)))
    worst = min(WORST_IMAGES, len(images))
    out.append((f"The {worst} held-out images with the highest anomaly scores: input, "
                "reconstruction and per-pixel error map",
                plots.errors(model, images, labels, n=worst)))
    return out


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.8rem; }
td:not(:first-child) { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f4f4f4; text-align: left; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3rem; }
figure { margin: 1rem 0 2rem; } img { max-width: 100%; }
.meta { color: #555; }
"""


def render_html(results: dict, figures: Sequence[tuple[str, bytes]] = (),
                title: str | None = None) -> str:
    """A complete HTML page: the run's details, the tables of `results` and the figures
    (caption, PNG bytes), embedded as data URIs."""
    esc = html.escape
    title = title or f"keras-ae report: {results.get('model', 'model')}"
    meta = [f"<b>{esc(key)}</b>: {esc(str(results[key]))}"
            for key in ("model", "dataset", "split", "images") if key in results]
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{esc(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
             f"<h1>{esc(title)}</h1>", f'<p class="meta">{" · ".join(meta)}</p>']
    for caption, header, rows in tables(results):
        parts.append(f"<table><caption>{esc(caption)}</caption>")
        parts.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
        parts.extend("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
        parts.append("</table>")
    if "features_skipped" in results:
        parts.append(f"<p>Features: {esc(results['features_skipped'])}.</p>")
    for caption, png in figures:
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{esc(caption)}">'
                     f"<figcaption>{esc(caption)}</figcaption></figure>")
    stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    parts += [f'<p class="meta">Written by keras-ae evaluate on {esc(stamp)}.</p>',
              "</body>", "</html>", ""]
    return "\n".join(parts)


def write_report(path: str | os.PathLike, results: dict, figures: Sequence[tuple[str, Any]] = (),
                 *, overwrite: bool = False) -> None:
    """Write the HTML report to `path` atomically; `figures` are (caption, matplotlib figure or
    PNG bytes) pairs. An existing file is replaced only with `overwrite`."""
    pngs = [(caption, fig if isinstance(fig, bytes) else figure_png(fig)) for caption, fig in figures]
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(render_html(results, pngs), encoding="utf-8")
