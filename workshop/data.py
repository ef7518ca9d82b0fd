"""The workshop's input data (``data/``), loaded the same way in every notebook."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def photo_uploads() -> pd.DataFrame:
    """The 200 photo uploads of the running example, one row each."""
    frame = pd.read_csv(DATA_DIR / "photo_uploads.csv")
    frame["uploaded_at"] = pd.to_datetime(frame["uploaded_at"], format="ISO8601")
    return frame


def upload_messages(n: int | None = None) -> list[str]:
    """The first ``n`` uploads as JSON message bodies, as the upload API would enqueue them."""
    frame = photo_uploads()
    if n is not None:
        if not 0 <= n <= len(frame):
            raise ValueError(f"n must be between 0 and {len(frame)}, got {n}")
        frame = frame.head(n)
    records = frame.assign(uploaded_at=frame["uploaded_at"].map(lambda t: t.isoformat()))
    return [json.dumps(row, separators=(",", ":")) for row in records.to_dict(orient="records")]
