"""Embed a document's pages with colpali-engine (on a GPU if there is one)
and store them in colpali-pg without running the model there.

    pip install colpali-engine pdf2image requests safetensors
    python embed_and_import.py report.pdf --server http://127.0.0.1:8080 --key "$COLPALI_WRITE_KEY"
    python embed_and_import.py report.pdf --out report.safetensors   # then: colpali-ingest import report.pdf --embeddings report.safetensors

The page images must be the pages colpali-pg would see: PDF pages rendered
at 200 dpi (pdf2image's default, as `colpali-ingest` renders them).
"""
import argparse
import pathlib

import requests
import torch
from safetensors.torch import save_file


def pages_of(path):
    if path.suffix.lower() == ".pdf":
        from pdf2image import convert_from_path
        return convert_from_path(str(path), dpi=200)
    from PIL import Image
    return [Image.open(path).convert("RGB")]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("document", type=pathlib.Path)
    parser.add_argument("--model", default="vidore/colpali-v1.2")
    parser.add_argument("--server", help="a `colpali serve` to upload to")
    parser.add_argument("--key", help="an API key with the write scope")
    parser.add_argument("--collection", default="default")
    parser.add_argument("--patch-grid", type=int, default=32, help="448 / 14 for ColPali")
    parser.add_argument("--out", type=pathlib.Path, help="write the embeddings here instead of uploading")
    args = parser.parse_args()

    from colpali_engine.models import ColPali, ColPaliProcessor
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = ColPali.from_pretrained(args.model, torch_dtype=torch.bfloat16 if device == "cuda" else torch.float32,
                                    device_map=device).eval()
    processor = ColPaliProcessor.from_pretrained(args.model)
    vectors = []
    with torch.no_grad():
        for image in pages_of(args.document):
            batch = processor.process_images([image]).to(device)
            vectors.append(model(**batch)[0].float().cpu())
    # One rows x dim tensor per page, named page_1, page_2, ...: pages may differ in rows.
    tensors = {f"page_{i + 1}": v.contiguous() for i, v in enumerate(vectors)}
    out = args.out or pathlib.Path(args.document.stem + ".safetensors")  # in the current directory
    save_file(tensors, str(out), metadata={"model": args.model})
    print(f"{len(vectors)} pages of {vectors[0].shape[0]} x {vectors[0].shape[1]} written to {out}")
    if args.out or not args.server:
        return

    with open(args.document, "rb") as document, open(out, "rb") as embeddings:
        response = requests.post(
            args.server.rstrip("/") + "/v1/documents",
            headers={"Authorization": f"Bearer {args.key}"} if args.key else {},
            files={"file": (args.document.name, document), "embeddings": (out.name, embeddings)},
            data={"model": args.model, "patch_grid": str(args.patch_grid),
                  "options": '{"collection": "%s"}' % args.collection},
        )
    body = response.json()
    if not response.ok:
        raise SystemExit(f"refused ({response.status_code}): {body['error']['message']}")
    print(f"stored as document {body['document_id']} ({body['pages']} pages)")


if __name__ == "__main__":
    main()
