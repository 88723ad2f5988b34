"""Benchmark 3: `manage.py beat` cold start against `manage.py check` (bare Django start-up).

    python -m bench.beat_startup [--runs 10] [--database URL] [--smoke]

Each run is a new process, the two commands interleaved so that noise hits both alike; the
result is the median of each and their ratio (target: beat within 10% of check). Then one run
of each under `python -X importtime` lists what beat imports that check does not.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

from bench import common

BEAT = ["beat", "bench-startup", "--status", "ok"]
CHECK = ["check"]


def _run(args: list[str], env: dict[str, str], *, python_flags: tuple[str, ...] = ()) -> str:
    done = subprocess.run(
        [sys.executable, *python_flags, str(common.app_root() / "manage.py"), *args],
        env=env,
        cwd=common.app_root(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    # `check` may warn (no alert channel here) yet succeed; anything else is a broken bench.
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stderr


def _imports(args: list[str], env: dict[str, str]) -> dict[str, int]:
    """Module -> cumulative import time (µs) of the top-level imports of one run."""
    times = {}
    for line in _run(args, env, python_flags=("-X", "importtime")).splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.removeprefix("import time:").split("|")
            if cumulative.strip().isdigit():
                times[name.strip()] = int(cumulative)
    return times


def measure(env: dict[str, str], runs: int) -> dict:
    samples: dict[str, list[float]] = {"check": [], "beat": []}
    for _ in range(runs):
        for name, args in (("check", CHECK), ("beat", BEAT)):
            started = time.perf_counter()
            _run(args, env)
            samples[name].append(time.perf_counter() - started)
    check, beat = (statistics.median(samples[k]) for k in ("check", "beat"))
    beat_imports, check_imports = _imports(BEAT, env), _imports(CHECK, env)
    extra = {m: t for m, t in beat_imports.items() if m not in check_imports}
    top = sorted(extra.items(), key=lambda item: -item[1])[:8]
    return {
        "runs": runs,
        "check_s": check,
        "beat_s": beat,
        "ratio": beat / check,
        "beat_only_imports_us": dict(top),
        "heavy_modules_in_beat": sorted(
            m for m in beat_imports if m.split(".")[0] in {"requests", "urllib3"}
        ),
    }


def main(argv: list[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = p.parse_args(argv)
    common.setup_django(args.database)
    env = common.bench_environ(args.database)
    result = measure(env, 2 if args.smoke else args.runs)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        common.table(
            ["command", f"median of {result['runs']} (ms)"],
            [
                ["manage.py check", f"{result['check_s'] * 1000:.0f}"],
                ["manage.py beat", f"{result['beat_s'] * 1000:.0f}"],
                ["beat / check", f"{result['ratio']:.2f}"],
            ],
        )
    )
    print("\nimported by beat, not by check (cumulative µs):")
    for module, micros in result["beat_only_imports_us"].items():
        print(f"  {module}: {micros}")
    print(f"requests/urllib3 in beat: {result['heavy_modules_in_beat'] or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
