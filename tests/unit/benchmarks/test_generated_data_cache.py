"""The benchmark's cached landing data is made again when the generator's code changes."""

from __future__ import annotations

from benchmarks import run


def test_the_generator_digest_follows_the_generator_code(tmp_path, monkeypatch):
    synthetic = tmp_path / "ingestion" / "synthetic"
    synthetic.mkdir(parents=True)
    (synthetic / "calibration.py").write_text("WEEKEND_FACTOR = 0.7\n")
    (synthetic / "README.txt").write_text("not code\n")
    monkeypatch.setattr(run, "HERE", tmp_path / "benchmarks")
    first = run._generator_digest()
    assert run._generator_digest() == first
    (synthetic / "README.txt").write_text("still not code\n")
    assert run._generator_digest() == first
    (synthetic / "calibration.py").write_text("WEEKEND_FACTOR = 0.3\n")
    assert run._generator_digest() != first
