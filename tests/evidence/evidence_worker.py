"""A separate OS process appending to the log and running sequencer steps (for the concurrency test).

usage: python evidence_worker.py DB_URL DATA_DIR NAME ROUNDS
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from evidence.config import EvidenceConfig
from evidence.entry import Entry
from evidence.log import EvidenceLog


def main() -> None:
    url, data_dir, name, rounds = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    cfg = EvidenceConfig(origin="evidence.test.example/log1", checkpoint_every_entries=25,
                         checkpoint_interval_s=0.05, integrate_batch_max=64)
    rnd = random.Random(name)
    with EvidenceLog.open(url, cfg, data_dir) as log:
        for i in range(rounds):
            # "shared" is one device appended to by both processes: its chain must still be gap-free.
            batch = [Entry(entry_type="evidence", device_id=rnd.choice(["shared", f"own-{name}"]),
                           payload={"writer": name, "round": i}) for _ in range(rnd.randint(1, 12))]
            if rnd.random() < 0.5:
                log.append_many(batch)
            else:
                for e in batch:
                    log.append(e)
            if i % 3 == 0:
                log.sequence_once()
        log.checkpoint()


if __name__ == "__main__":
    main()
