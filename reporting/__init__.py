"""XMO session packs: self-contained HTML written from the published marts only (no Dagster)."""
