"""Search a `colpali serve` over HTTP and save the best page's heat map.

    pip install requests
    python search_http.py "What was the revenue in Q3?" --server http://127.0.0.1:8080
"""
import argparse
import urllib.parse

import requests


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("question")
    parser.add_argument("--server", default="http://127.0.0.1:8080")
    parser.add_argument("--key", help="an API key (needed from another machine)")
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--map", default="best-page-map.png", help="where to save the best page's similarity map")
    args = parser.parse_args()
    server = args.server.rstrip("/")
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}

    response = requests.post(f"{server}/v1/search", json={"question": args.question, "limit": args.limit}, headers=headers)
    body = response.json()
    if not response.ok:
        raise SystemExit(f"search refused ({response.status_code}): {body['error']['message']}")
    for hit in body["hits"]:
        print(f"{hit['rank']:>2}  {hit['score']:8.3f}  page {hit['page_number']:>3}  {hit['title'] or hit['source_uri']}")
    print(f"({body['timings_ms']['total']:.0f} ms)")
    if not body["hits"]:
        return

    best = body["hits"][0]["page_id"]
    query = urllib.parse.urlencode({"question": args.question})
    tokens = requests.get(f"{server}/v1/pages/{best}/map.json?{query}", headers=headers).json()["tokens"]
    print("question tokens:", " ".join(f"{t['text'].strip()}({t['best']:.2f})" for t in tokens))
    image = requests.get(f"{server}/v1/pages/{best}/map?{query}", headers=headers)
    image.raise_for_status()
    with open(args.map, "wb") as out:
        out.write(image.content)
    print(f"similarity map of page {best} saved to {args.map}")


if __name__ == "__main__":
    main()
