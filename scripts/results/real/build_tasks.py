#!/usr/bin/env python3
"""The real-model result tasks: a training pool and a fixed stratified test sample per task, from ../shared/datasets.

Deterministic (Python's random with a fixed seed, stdlib only); writes docs/results/real/tasks/<task>-{train,test}.jsonl as
{"id", "text", "label"} with label names as the model should generate them, and tasks.json (instruction, labels, counts).

- Train pool: the task's training file, at most POOL_PER_CLASS rows per class (k-shot sets and the tuning validation split are
  drawn from it by `prefixlab compare`, per seed).
- Test: a stratified sample of the task's own test file, TEST_PER_CLASS[task] rows per class (fewer where the file has fewer).
- Texts are cut to their first MAX_WORDS words (the compute budget; stated in docs/results.md), whitespace collapsed.

Run: python3 scripts/results/real/build_tasks.py
"""
import csv
import json
import random
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared" / "datasets"
OUT = ROOT / "docs" / "results" / "real" / "tasks"
MAX_WORDS = 40
POOL_PER_CLASS = 100
TEST_PER_CLASS = {"sst2": 30, "trec": 16, "agnews": 25, "dbpedia": 7, "goemotions": 4}

TREC_NAMES = {"ABBR": "abbreviation", "DESC": "description", "ENTY": "entity", "HUM": "human", "LOC": "location", "NUM": "number"}
DBPEDIA_NAMES = ["Company", "EducationalInstitution", "Artist", "Athlete", "OfficeHolder", "MeanOfTransportation", "Building",
                 "NaturalPlace", "Village", "Animal", "Plant", "Album", "Film", "WrittenWork"]


def clean(text):
    return " ".join(text.split()[:MAX_WORDS])


def tsv(path, header=True):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows[1:] if header else rows


def sst2():
    to = {"0": "negative", "1": "positive"}
    train = [(r[0], to[r[1]]) for r in tsv(SHARED / "sst2" / "dev_from_glue_train.tsv")]
    test = [(r[0], to[r[1]]) for r in tsv(SHARED / "sst2" / "test_glue_dev.tsv")]
    return train, test, "Classify the sentiment of the movie review. Answer with one word: positive or negative."


def trec():
    def read(name):
        out = []
        for line in (SHARED / "trec" / name).read_bytes().decode("latin-1").splitlines():
            m = re.match(r"^([A-Z]+):\S+ (.*)$", line.strip())
            if m:
                out.append((m.group(2), TREC_NAMES[m.group(1)]))
        return out
    labels = ", ".join(TREC_NAMES.values())
    return read("TREC.train"), read("TREC.test"), f"What kind of answer does the question ask for? Answer with one word: {labels}."


def agnews():
    classes = (SHARED / "ag_news" / "classes.txt").read_text().split()
    train = [(r[0], r[1]) for r in tsv(SHARED / "ag_news" / "train_sample_10k.tsv", header=False) if len(r) == 2]
    with open(SHARED / "ag_news" / "test.csv", encoding="utf-8", newline="") as f:
        test = [(f"{t}. {d}".replace("\\", " "), classes[int(c) - 1]) for c, t, d in csv.reader(f)]
    return train, test, f"Classify the topic of the news article. Answer with one of: {', '.join(classes)}."


def dbpedia():
    def read(name):
        return [(r[0], DBPEDIA_NAMES[int(r[1]) - 1]) for r in tsv(SHARED / "dbpedia14" / name)]
    return read("train.tsv"), read("test.tsv"), f"Classify the subject of the encyclopedia text. Answer with one of: {', '.join(DBPEDIA_NAMES)}."


def goemotions():
    names = [n for n in (SHARED / "goemotions" / "emotions.txt").read_text().split() if n != "neutral"]
    def read(name):
        return [(r[0], r[1]) for r in tsv(SHARED / "goemotions" / name) if len(r) == 2 and r[1] in names]
    return read("train.tsv"), read("test.tsv"), f"Which emotion does the text express? Answer with one of: {', '.join(names)}."


def sample(rows, per_class, rng):
    by = defaultdict(list)
    for text, label in rows:
        text = clean(text)
        if text:
            by[label].append(text)
    out = []
    for label in sorted(by):
        texts = sorted(set(by[label]))
        rng.shuffle(texts)
        out += [(t, label) for t in texts[:per_class]]
    rng.shuffle(out)
    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name, build in [("sst2", sst2), ("trec", trec), ("agnews", agnews), ("dbpedia", dbpedia), ("goemotions", goemotions)]:
        train, test, instruction = build()
        rng = random.Random(f"prefixlab-real-{name}")
        test_rows = sample(test, TEST_PER_CLASS[name], rng)
        test_texts = {t for t, _ in test_rows}
        pool = sample([(t, l) for t, l in train if clean(t) not in test_texts], POOL_PER_CLASS, rng)
        for split, rows in (("train", pool), ("test", test_rows)):
            with open(OUT / f"{name}-{split}.jsonl", "w", encoding="utf-8") as f:
                for i, (text, label) in enumerate(rows):
                    f.write(json.dumps({"id": f"{split}-{i}", "text": text, "label": label}, ensure_ascii=False) + "\n")
        labels = sorted({l for _, l in pool})
        summary[name] = {"instruction": instruction, "labels": labels, "train": len(pool), "test": len(test_rows),
                         "testPerClass": {l: sum(1 for _, x in test_rows if x == l) for l in labels}}
    (OUT / "tasks.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    for name, s in summary.items():
        print(f"{name}: {len(s['labels'])} labels, {s['train']} train pool, {s['test']} test")


if __name__ == "__main__":
    main()
