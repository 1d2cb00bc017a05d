#!/usr/bin/env python3
"""Score error of 16-bit page storage against fp32, fp16 vs bf16.

ColPali-shaped synthetic data as bench/swift/SyntheticCorpus.swift makes it:
pages of 1,030 L2-normalised 128-dim rows around shared topic centroids,
queries of 20 rows taken from a target page plus noise. Documents are
rounded to each 16-bit format (round to nearest even, as the extension's
cast does); queries stay fp32, as in the database. Prints the worst
absolute and relative MaxSim error and how many top-10 lists change.

    python3 bench/half_precision_error.py [PAGES] [QUERIES]
"""
import sys

import numpy as np

pages = int(sys.argv[1]) if len(sys.argv) > 1 else 500
queries = int(sys.argv[2]) if len(sys.argv) > 2 else 50
rows, dim, topics = 1030, 128, 512
rng = np.random.default_rng(7)


def normalise(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


centroids = normalise(rng.standard_normal((topics, dim)).astype(np.float32))
corpus = np.empty((pages, rows, dim), np.float32)
for p in range(pages):
    picks = rng.integers(0, topics, rows)
    corpus[p] = normalise(centroids[picks] + 0.35 * rng.standard_normal((rows, dim)).astype(np.float32))

targets = rng.integers(0, pages, queries)
qs = np.stack([normalise(corpus[t, rng.integers(0, rows, 20)] + 0.25 * rng.standard_normal((20, dim)).astype(np.float32))
               for t in targets])


def to_bf16(x):
    bits = x.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
    return rounded.astype(np.uint32).view(np.float32)


def maxsim_all(docs):
    out = np.empty((queries, pages), np.float64)
    for p in range(pages):
        sims = np.einsum("qrd,nd->qrn", qs, docs[p], dtype=np.float32)
        out[:, p] = sims.max(axis=2).sum(axis=1)
    return out


exact = maxsim_all(corpus)
top_exact = np.argsort(-exact, axis=1, kind="stable")[:, :10]
print(f"{pages} pages x {rows} x {dim}, {queries} queries of 20 rows; scores around {exact.mean():.2f}")
print(f"{'format':8} {'max |err|':>10} {'max rel err':>12} {'mean |err|':>11} {'top-10 changed':>15} {'top-1 changed':>14}")
for name, docs in (("fp16", corpus.astype(np.float16).astype(np.float32)), ("bf16", to_bf16(corpus))):
    scores = maxsim_all(docs)
    err = np.abs(scores - exact)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    changed = sum(set(a) != set(b) for a, b in zip(top, top_exact))
    first = int((top[:, 0] != top_exact[:, 0]).sum())
    print(f"{name:8} {err.max():>10.2e} {(err / np.abs(exact)).max():>12.2e} {err.mean():>11.2e} {changed:>15} {first:>14}")
