"""bench/README.md lists every benchmark in its table, and each ends with its RATIO line."""

import re
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def listed() -> set[str]:
    table = (BENCH / "README.md").read_text()
    return set(re.findall(r"^\| `(\w+)\.py` \|", table, flags=re.MULTILINE))


def test_every_benchmark_is_in_the_readme_table():
    scripts = {p.stem for p in BENCH.glob("*.py") if not p.stem.startswith("_")}
    assert scripts, "no benchmark found"
    assert scripts - listed() == set()


def test_every_benchmark_prints_its_ratio_line():
    for script in BENCH.glob("*.py"):
        if script.stem.startswith("_"):
            continue
        text = script.read_text()
        assert f'"{script.stem}"' in text or f"RATIO {script.stem} " in text, script.name
