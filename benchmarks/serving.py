"""Serving: each Space's main endpoint under load, as its users reach it (HTTP, through gradio_client).

    python -m benchmarks.serving [--spaces dcgan robustness cocogan collection] [--clients 1 16]
                                 [--seconds 20] [--out results/serving.jsonl]

Each Space is built from the shipped models (`pretrained/`), served on 127.0.0.1 in this process with
its production settings (`core.demos.components`: bounded cache, upload limit), and called by
`--clients` concurrent clients (one `gradio_client.Client` each, in threads) for `--seconds`, after
two warm-up calls each. Per (Space, clients), rows:

    latency_ms_p50, latency_ms_p95   one call end to end: request, queue, handler, the image fetched
    calls_per_s                      completed calls per second, all clients together
    errors                           failed calls (any exception the client raised)
    temp_dir_mb                      what Gradio's cache folder (GRADIO_TEMP_DIR) holds after the run

The server and the clients share this machine's CPU, as they would on a one-box Space; compare
figures within one run.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from accelerate.utils import patch_environment

from benchmarks import run_scenarios
from core.errors import UserError
from core.paths import RESULTS_DIR
from core.results import Row, device_label

BENCHMARK = "serving"


@dataclass(frozen=True)
class Endpoint:
    """A Space's main endpoint: how to build the Space, its API name, and one typical call's arguments."""

    build: Callable[[], object]  # () -> gr.Blocks
    api_name: str
    arguments: Callable[[object], tuple]  # the built Blocks -> positional arguments of one call


def _first_choice(demo, label: str):
    """The default value of the component whose label starts with `label` in `demo` (its first model, say)."""
    for block in demo.blocks.values():
        if str(getattr(block, "label", None) or "").startswith(label):
            return block.value
    raise UserError(f"the Space has no component labelled {label!r}")


def _space(module: str) -> Callable[[], object]:
    """A builder of the Space in `module` (apps.<name>.app), imported only when it is measured."""
    return lambda: importlib.import_module(module).build_demo()


ENDPOINTS = {
    "dcgan": Endpoint(_space("apps.dcgan.app"), "/generate", lambda demo: (_first_choice(demo, "Model"), "all classes", 0, 16)),
    "robustness": Endpoint(_space("apps.robustness.app"), "/attack",
                           lambda demo: (_first_choice(demo, "Classifier"), _first_choice(demo, "True class"), "pgd",
                                         0.1, False)),
    "cocogan": Endpoint(_space("apps.cocogan.app"), "/generate", lambda demo: (_first_choice(demo, "Model"), 0, True)),
    "collection": Endpoint(_space("apps.collection.app"), "/side_by_side", lambda demo: (0, 10, "all classes")),
    # the session's photo (the first example) searched among the real products: the Space's target is p95 <= 300 ms
    "edit_search": Endpoint(_space("apps.edit_search.app"), "/search", lambda demo: ()),
}


@dataclass(frozen=True)
class Scenario:
    space: str
    clients: int
    seconds: float = 20.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6 if folder.is_dir() else 0.0


def measure(scenario: Scenario) -> dict[str, float]:
    """Serve the Space, load it with the scenario's clients, and return its figures."""
    endpoint = ENDPOINTS[scenario.space]
    with tempfile.TemporaryDirectory(prefix="fgl-serving-") as temp, patch_environment(GRADIO_TEMP_DIR=temp):
        demo = endpoint.build()  # its components take the cache folder when they are built
        return _load(demo, endpoint, scenario, Path(temp))


def _load(demo, endpoint: Endpoint, scenario: Scenario, temp: Path) -> dict[str, float]:
    """Serve `demo` and call it from the scenario's clients, each a process of its own (as separate visitors
    are: clients in the server's process would share its interpreter lock); the figures."""
    arguments = endpoint.arguments(demo)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True,
                            max_file_size="10mb")
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(scenario.clients), context.Queue()
    clients = [context.Process(target=_client, args=(url, endpoint.api_name, arguments, scenario.seconds, ready, results),
                               daemon=True) for _ in range(scenario.clients)]
    try:
        for client in clients:
            client.start()
        outcomes = [results.get(timeout=scenario.seconds + 180) for _ in clients]
        cached = _folder_mb(temp)  # before close: a Space with delete_cache empties its cache on shutdown
    finally:
        for client in clients:
            client.join(timeout=10)
            if client.is_alive():
                client.kill()
        demo.close()
    latencies = sorted(latency for done, _ in outcomes for latency in done)
    errors = sum(failed for _, failed in outcomes)
    if not latencies:
        raise RuntimeError(f"no call to {scenario.space}{endpoint.api_name} succeeded ({errors} errors)")
    return {
        "latency_ms_p50": 1000 * statistics.median(latencies),
        "latency_ms_p95": 1000 * latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
        "calls_per_s": len(latencies) / scenario.seconds,
        "errors": float(errors),
        "temp_dir_mb": cached,
        "calls": float(len(latencies)),
    }


def _client(url: str, api_name: str, arguments: tuple, seconds: float, ready, results) -> None:
    """One visitor: connect, two warm-up calls, then call for `seconds` once every client is ready; puts
    (latencies in s, failed calls) on `results`."""
    from gradio_client import Client

    latencies, errors = [], 0
    downloads = tempfile.mkdtemp(prefix="fgl-serving-client-")  # a browser fetches every image it is sent
    try:
        client = Client(url, verbose=False, download_files=downloads, analytics_enabled=False)
        for _ in range(2):  # the first calls connect and warm the server's caches
            client.predict(*arguments, api_name=api_name)
    except Exception:  # noqa: BLE001 - a client that cannot even start counts as one error
        ready.wait()
        results.put(([], 1))
        return
    ready.wait()
    stop = time.monotonic() + seconds  # the same window in every client: they leave the barrier together
    while time.monotonic() < stop:
        began = time.monotonic()
        try:
            client.predict(*arguments, api_name=api_name)
        except Exception:  # noqa: BLE001 - every failed call counts, whatever the client raised
            errors += 1
            continue
        latencies.append(time.monotonic() - began)
    shutil.rmtree(downloads, ignore_errors=True)
    results.put((latencies, errors))


UNITS = {"latency_ms_p50": "ms", "latency_ms_p95": "ms", "calls_per_s": "calls/s", "errors": "calls", "temp_dir_mb": "MB"}


def run(scenario: Scenario) -> list[Row]:
    """One scenario's rows; a failure becomes error rows, never an exception."""
    params = {"space": scenario.space, "endpoint": ENDPOINTS[scenario.space].api_name, "clients": scenario.clients,
              "seconds": scenario.seconds}
    label = device_label("cpu")
    data = "the shipped models in pretrained/"
    try:
        figures = measure(scenario)
    except Exception as err:  # noqa: BLE001 - recorded as rows; the benchmark goes on
        return [Row(BENCHMARK, scenario.space, "-", metric, None, unit, label, params, data,
                    error=f"{type(err).__name__}: {err}") for metric, unit in UNITS.items()]
    params["calls"] = int(figures.pop("calls"))
    return [Row(BENCHMARK, scenario.space, "-", metric, value, UNITS[metric], label, params, data)
            for metric, value in figures.items()]


def format_table(rows: list[Row]) -> str:
    cells: dict[tuple, dict[str, Row]] = {}
    for row in rows:
        cells.setdefault((row.model, row.params["clients"]), {})[row.metric] = row
    lines = [f"{'space':12} {'clients':>7} {'p50 ms':>8} {'p95 ms':>8} {'calls/s':>8} {'errors':>6} {'temp MB':>8}"]
    for (space, clients), metrics in cells.items():
        def cell(metric: str, fmt: str, metrics: dict[str, Row] = metrics) -> str:
            row = metrics.get(metric)
            return "error" if row is None or row.value is None else fmt.format(row.value)

        lines.append(f"{space:12} {clients:>7} {cell('latency_ms_p50', '{:.0f}'):>8} {cell('latency_ms_p95', '{:.0f}'):>8} "
                     f"{cell('calls_per_s', '{:.1f}'):>8} {cell('errors', '{:.0f}'):>6} {cell('temp_dir_mb', '{:.2f}'):>8}")
    lines += [f"error: {r.model} ({r.params['clients']} clients): {r.error}" for r in rows if r.error and r.metric == "errors"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving", description=__doc__.split("\n\n")[0])
    parser.add_argument("--spaces", nargs="+", choices=list(ENDPOINTS), default=list(ENDPOINTS))
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 16])
    parser.add_argument("--seconds", type=float, default=20.0, help="load per scenario (default 20)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "serving.jsonl")
    args = parser.parse_args(argv)
    if any(c < 1 or c > 64 for c in args.clients) or not args.seconds > 0:
        parser.error("clients must be 1..64 and seconds > 0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    plan = [Scenario(space, clients, args.seconds) for space in args.spaces for clients in args.clients]
    rows = run_scenarios(plan, run, args.out, BENCHMARK, unit="scenario")
    print(format_table(rows))
    print(f"{len(rows)} rows appended to {args.out}")
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
