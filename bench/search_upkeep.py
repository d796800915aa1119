#!/usr/bin/env python3
"""What keeping the trigram search index costs a create, and what batching it would save.

The server's creates commit in groups of about 20 (one writer, group commit) and each one
updates the trigram FTS5 index inside its transaction, so FTS5 flushes and merges a tiny
segment per group. This measures, on a table of request-shaped rows with the project's index
definition (external content, trigram, detail=none, columnsize=0):

  none       inserts only, no search index (the ceiling)
  inline     the index updated with each insert, as the server's trigger does today
  backlogN   each insert appends its id to a backlog table; every N creates the backlog is
             moved into the index in one transaction

Usage: python3 bench/search_upkeep.py [EXISTING_ROWS] [NEW_ROWS]   (defaults 200000 40000)
Uses Python's own SQLite (its FTS5), in a temporary folder; deterministic data.
"""
import os
import random
import sqlite3
import sys
import tempfile
import time

WORDS = ("화장실 천장 물이 새요 보일러 고장 전등 깜빡임 엘리베이터 멈춤 콘센트 스파크 에어컨 "
         "냄새 곰팡이 벽 균열 창문 잠금 도어락 방충망 배수구 막힘 싱크대 온수 안나와요 복도 "
         "현관 주차장 누수 소음").split()
GROUP = 20


def description(rng):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))


def location(rng):
    return f"{rng.randint(101, 130)}동 {rng.randint(1, 25)}{rng.randint(1, 4):02d}호"


def seeded(path, rows, rng):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE requests (id INTEGER PRIMARY KEY, description TEXT, location TEXT)")
    conn.execute("CREATE TABLE search_backlog (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE VIRTUAL TABLE requests_fts USING fts5 (description, location, "
                 "content = 'requests', content_rowid = 'id', tokenize = 'trigram', "
                 "detail = none, columnsize = 0)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO requests (description, location) VALUES (?, ?)",
                     ((description(rng), location(rng)) for _ in range(rows)))
    conn.execute("INSERT INTO requests_fts (requests_fts) VALUES ('rebuild')")
    conn.execute("COMMIT")
    return conn


def run(mode, existing, new, folder):
    rng = random.Random(7)
    conn = seeded(os.path.join(folder, f"{mode}.db"), existing, rng)
    rows = [(description(rng), location(rng)) for _ in range(new)]
    flush_every = int(mode[len("backlog"):]) if mode.startswith("backlog") else 0
    worst = 0.0
    started = time.perf_counter()
    for first in range(0, new, GROUP):
        group_started = time.perf_counter()
        conn.execute("BEGIN")
        for text, place in rows[first:first + GROUP]:
            rid = conn.execute("INSERT INTO requests (description, location) VALUES (?, ?)",
                               (text, place)).lastrowid
            if mode == "inline":
                conn.execute("INSERT INTO requests_fts (rowid, description, location) "
                             "VALUES (?, ?, ?)", (rid, text, place))
            elif flush_every:
                conn.execute("INSERT INTO search_backlog (id) VALUES (?)", (rid,))
        conn.execute("COMMIT")
        if flush_every and (first + GROUP) % flush_every == 0:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO requests_fts (rowid, description, location) "
                         "SELECT r.id, r.description, r.location "
                         "FROM search_backlog JOIN requests AS r USING (id)")
            conn.execute("DELETE FROM search_backlog")
            conn.execute("COMMIT")
        worst = max(worst, time.perf_counter() - group_started)
    elapsed = time.perf_counter() - started
    conn.close()
    print(f"{mode:12s} {new / elapsed:9.0f} creates/s   slowest group (with its flush) "
          f"{worst * 1000:6.1f} ms")


def main():
    existing = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    new = int(sys.argv[2]) if len(sys.argv) > 2 else 40_000
    print(f"SQLite {sqlite3.sqlite_version}; {existing} rows indexed, then {new} creates "
          f"in groups of {GROUP}")
    with tempfile.TemporaryDirectory() as folder:
        for mode in ("none", "inline", "backlog500", "backlog2000"):
            run(mode, existing, new, folder)


if __name__ == "__main__":
    main()
