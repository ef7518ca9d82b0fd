"""Regenerate data/photo_uploads.csv: 200 synthetic photo uploads for the running example.

The photos, users and sizes are made up (seeded, so the file is reproducible); the shape of each
record is what the photo-processing service in the notebooks receives from its API.
Run: python scripts/make_photo_uploads.py
"""

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

USERS = ["amara", "bo", "chen", "dara", "elif", "femi", "gus", "hana", "ines", "joon"]
CAMERAS = [("phone", 4032, 3024), ("phone", 3024, 4032), ("dslr", 6000, 4000), ("scan", 2480, 3508)]
FILTERS = ["none", "none", "none", "mono", "warm", "sharpen"]
SIZES = ["thumb", "thumb;medium", "thumb;medium;large"]


def main() -> None:
    rng = random.Random(2026)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    rows = []
    for i in range(200):
        source, width, height = rng.choice(CAMERAS)
        pixels = width * height
        rows.append(
            {
                "upload_id": f"up-{i:04d}",
                "user": rng.choice(USERS),
                "filename": f"IMG_{rng.randint(1000, 9999)}.jpg",
                "source": source,
                "width": width,
                "height": height,
                # JPEG at roughly 0.3 to 0.6 bytes a pixel
                "size_kb": int(pixels * rng.uniform(0.3, 0.6) / 1024),
                "sizes": rng.choice(SIZES),
                "filter": rng.choice(FILTERS),
                "uploaded_at": (
                    start + timedelta(seconds=round(i * rng.uniform(5, 40)))
                ).isoformat(),
            }
        )
    path = Path(__file__).resolve().parent.parent / "data" / "photo_uploads.csv"
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {path}")


if __name__ == "__main__":
    main()
