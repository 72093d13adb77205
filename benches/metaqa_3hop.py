#!/usr/bin/env python3
"""Builds 3-hop MetaQA-style questions from the KB, for measuring how a model
trained on 1- and 2-hop questions composes a third hop (issue 18).

MetaQA's 3-hop questions are not in ../shared/data/metaqa, so this writes our
own: every question walks movie -> person -> movies -> answer (e.g. "who
acted in the films directed by the director of [Heat]"), its answers all the
entities at the end of that relation path (the topic left out), phrased
with templates written here by hand. kgfuse never sees these templates: it
composes its own 3-hop training questions from the phrasings of the 1- and
2-hop files, so this file is held out from training in text as well as in
questions.

Usage: benches/metaqa_3hop.py [--set dev|test] [--kb KB] [--per-template N] [--seed S] OUT
Writes OUT (`question<TAB>a1|a2`) and OUT with `_qtype` before its suffix.
"""
import argparse
import os
import random
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("KGFUSE_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))

# (first hop from the movie, the person's role, last hop, templates); {x} is
# the bracketed topic movie. Two sets with different chains and wordings:
# "dev" was looked at while kgfuse's composition was built; "test" was
# written before any model saw it and chose nothing.
DEV = [
    ("directed_by", "director", "starred_actors", [
        "who acted in the movies directed by the director of {x}",
        "the director of {x} also directed films starring which actors",
    ]),
    ("directed_by", "director", "release_year", [
        "when were the films directed by the director of {x} released",
        "in which years did the director of {x} release movies",
    ]),
    ("directed_by", "director", "has_genre", [
        "what genres are the movies directed by the director of {x}",
    ]),
    ("written_by", "writer", "directed_by", [
        "who directed the films written by the writer of {x}",
        "the screenwriter of {x} wrote films directed by whom",
    ]),
    ("written_by", "writer", "in_language", [
        "what languages are the films written by the writer of {x} in",
    ]),
    ("written_by", "writer", "starred_actors", [
        "who starred in the movies written by the screenwriter of {x}",
    ]),
    ("starred_actors", "actor", "directed_by", [
        "who directed the films starring the actors of {x}",
        "the actors in {x} appeared in movies directed by who",
    ]),
    ("starred_actors", "actor", "release_year", [
        "when did the movies starring the actors of {x} come out",
    ]),
    ("starred_actors", "actor", "written_by", [
        "who wrote the films that the stars of {x} acted in",
    ]),
]
TEST = [
    ("directed_by", "director", "starred_actors", [
        "which actors starred in films by the director of {x}",
        "the director of {x} made movies with which actors",
    ]),
    ("directed_by", "director", "release_year", [
        "what years were movies by the director of {x} released",
    ]),
    ("directed_by", "director", "written_by", [
        "who wrote the movies directed by the director of {x}",
    ]),
    ("directed_by", "director", "in_language", [
        "which languages are the films directed by the director of {x} in",
    ]),
    ("written_by", "writer", "has_genre", [
        "what genres are the films written by the writer of {x}",
    ]),
    ("written_by", "writer", "release_year", [
        "when were the movies written by the writer of {x} released",
    ]),
    ("written_by", "writer", "directed_by", [
        "who are the directors of the films written by the writer of {x}",
    ]),
    ("starred_actors", "actor", "has_genre", [
        "what genres are the movies starring the actors in {x}",
    ]),
    ("starred_actors", "actor", "in_language", [
        "what languages are the films acted by the actors of {x} in",
    ]),
    ("starred_actors", "actor", "directed_by", [
        "who directed the movies that the actors in {x} starred in",
    ]),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--kb", default=os.path.join(SHARED, "metaqa", "kb.txt"))
    ap.add_argument("--per-template", type=int, default=60)
    ap.add_argument("--max-answers", type=int, default=40)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--set", choices=["dev", "test"], default="test")
    args = ap.parse_args()

    forward = defaultdict(lambda: defaultdict(set))  # relation -> subject -> objects
    backward = defaultdict(lambda: defaultdict(set))  # relation -> object -> subjects
    with open(args.kb, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("|")
            if len(parts) != 3:
                continue
            s, r, o = parts
            forward[r][s].add(o)
            backward[r][o].add(s)

    rng = random.Random(args.seed)
    lines, qtypes = [], []
    for first, role, last, templates in (DEV if args.set == "dev" else TEST):
        movies = sorted(forward[first])
        rng.shuffle(movies)
        qtype = f"movie_to_{role}_to_movie_to_{last}"
        for template in templates:
            made = 0
            for movie in movies:
                if made == args.per_template:
                    break
                people = forward[first][movie]
                films = set().union(*(backward[first][p] for p in people))
                answers = set().union(*(forward[last].get(m, set()) for m in films))
                answers.discard(movie)
                if not answers or len(answers) > args.max_answers or "[" in movie:
                    continue
                question = template.replace("{x}", f"[{movie}]")
                lines.append(f"{question}\t{'|'.join(sorted(answers))}")
                qtypes.append(qtype)
                made += 1
            movies = movies[made:] + movies[:made]
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    stem, suffix = os.path.splitext(args.out)
    with open(f"{stem}_qtype{suffix}", "w", encoding="utf-8") as f:
        f.write("\n".join(qtypes) + "\n")
    print(f"{len(lines)} questions in {args.out}")


if __name__ == "__main__":
    main()
