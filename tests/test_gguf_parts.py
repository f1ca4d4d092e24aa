"""benchmarks/gguf_parts.py: a file cut into parts for device calls comes back byte for byte,
and a part that is missing or damaged is named in one line instead of giving a bad file."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SPEC = importlib.util.spec_from_file_location(
    "gguf_parts", Path(__file__).resolve().parent.parent / "benchmarks" / "gguf_parts.py")
parts = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(parts)


@pytest.fixture
def blob(tmp_path):
    src = tmp_path / "model.gguf"
    src.write_bytes(np.random.default_rng(0).integers(0, 256, 1_000_003, dtype=np.uint8).tobytes())
    return src


def test_round_trip(blob, tmp_path):
    m = parts.split(blob, tmp_path / "parts", room=300_000, final_extra=120_000)
    sizes = [p["bytes"] for p in m["parts"]]
    # every part but the last fills a call; the last leaves room for the code beside it
    assert sizes[:-1] == [300_000] * (len(sizes) - 1) and sizes[-1] <= 300_000 - 120_000
    assert sum(sizes) == blob.stat().st_size and len(sizes) == 4
    # the parts arrive in two folders, as they do on the device (/tmp/gguf and .gguf)
    other = tmp_path / "other"
    other.mkdir()
    (tmp_path / "parts" / m["parts"][0]["file"]).rename(other / m["parts"][0]["file"])
    out = parts.join(tmp_path / "parts" / "manifest.json", [other, tmp_path / "parts"], tmp_path / "pkg")
    assert out.read_bytes() == blob.read_bytes()


def test_damaged_or_missing_part(blob, tmp_path):
    m = parts.split(blob, tmp_path / "parts", room=400_000, final_extra=0)
    manifest, second = tmp_path / "parts" / "manifest.json", tmp_path / "parts" / m["parts"][1]["file"]
    data = bytearray(second.read_bytes())
    data[10] ^= 1
    second.write_bytes(bytes(data))
    with pytest.raises(parts.PartsError, match="does not match its sha256"):
        parts.join(manifest, [tmp_path / "parts"], tmp_path / "pkg")
    second.unlink()
    with pytest.raises(parts.PartsError, match=r"part2 is in none of"):
        parts.join(manifest, [tmp_path / "parts"], tmp_path / "pkg")
    assert not (tmp_path / "pkg" / blob.name).exists()  # no half-made file left behind


def test_bad_input_is_one_line(blob, tmp_path, capsys):
    assert parts.main(["split", str(blob), "--out", str(tmp_path / "p"), "--part-bytes", "0"]) == 2
    assert capsys.readouterr().err.strip() == "part-bytes: must be >= 1 (got 0)"
    assert parts.main(["split", str(tmp_path / "nope"), "--part-bytes", "10"]) == 2
    assert capsys.readouterr().err.strip().startswith("file: no such file")
    with pytest.raises(parts.PartsError, match="final-carry"):
        parts.part_sizes(100, room=10, final_extra=10)
