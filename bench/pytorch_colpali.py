#!/usr/bin/env python3
"""Baseline for bench/model_speed.sh: transformers' ColPaliForRetrieval on CPU.

Loads a checkpoint directory in bf16 or fp32, embeds N random pages and M
queries after one warm-up of each, and prints one JSON line:
{"framework": "pytorch", "dtype": ..., "seconds_per_page": ..., "seconds_per_query": ..., "peak_rss_gb": ...}.
Run one dtype per process so peak RSS is that dtype's alone.
"""
import argparse
import json
import resource
import time

import numpy as np
import torch
from PIL import Image
from transformers import ColPaliForRetrieval, ColPaliProcessor


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--dtype", choices=["bf16", "fp32"], required=True)
    parser.add_argument("--pages", type=int, default=2)
    parser.add_argument("--queries", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--image", default=None, help="page image (default: random pixels)")
    parser.add_argument("--dump", default=None, help="write page.npy and query.npy (first query) here")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    started = time.time()
    model = ColPaliForRetrieval.from_pretrained(args.model, dtype=dtype, attn_implementation="sdpa").eval()
    processor = ColPaliProcessor.from_pretrained(args.model)
    load_seconds = time.time() - started

    if args.image:
        page = Image.open(args.image).convert("RGB")
    else:
        page = Image.fromarray((np.random.default_rng(0).random((1100, 850, 3)) * 255).astype("uint8"))
    queries = [f"What is the total revenue reported for quarter {i} in the annual report?" for i in range(args.queries)]

    def embed_page():
        batch = processor.process_images(images=[page])
        with torch.inference_mode():
            return model(**batch).embeddings

    def embed_query(text):
        batch = processor.process_queries(text=[text])
        with torch.inference_mode():
            return model(**batch).embeddings

    warm_page = embed_page()  # warm-up
    warm_query = embed_query(queries[0])
    if args.dump:
        import os
        os.makedirs(args.dump, exist_ok=True)
        np.save(os.path.join(args.dump, "page.npy"), warm_page[0].float().numpy())
        np.save(os.path.join(args.dump, "query.npy"), warm_query[0].float().numpy())
    started = time.time()
    for _ in range(args.pages):
        out = embed_page()
    per_page = (time.time() - started) / args.pages
    started = time.time()
    for text in queries:
        embed_query(text)
    per_query = (time.time() - started) / len(queries)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(json.dumps({
        "framework": "pytorch " + torch.__version__, "dtype": args.dtype, "threads": args.threads,
        "load_seconds": round(load_seconds, 1), "seconds_per_page": round(per_page, 2),
        "seconds_per_query": round(per_query, 3), "peak_rss_gb": round(peak_gb, 2),
        "page_tokens": int(out.shape[1]),
    }))


if __name__ == "__main__":
    main()
