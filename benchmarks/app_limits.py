"""The app server under the large inputs of the hardening issue: what it answers, its memory,
and whether another visitor's request waits.

Starts `blvnet-edu app` (default limits, `budget.Limits`) as a server process on 127.0.0.1,
then sends each case together with a normal visitor's `/predict` on an example clip, and
records: the answer (served, scaled down or refused, with the message), the case's time, the
normal request's time beside it (against its median alone), and the server's memory (VmRSS
after the case, VmHWM: the peak since the start). Exits 1 if the peak passes `--max-rss-mb`,
the bound the README documents. Results: docs/benchmarks/app_limits.md.

    python benchmarks/app_limits.py            # 3 rounds of every case, about 3 minutes on 2 cores
    python benchmarks/app_limits.py --quick    # smaller files, fewer cases (the test suite runs this)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "app" / "examples" / "moving_left.mp4"
DEMO = ROOT / "app" / "demo" / "blvnet_tam_tiny.pt"
TAM = "bLVNet-TAM (demo)"


def encode(path: Path, frames: int, width: int, height: int, keyint: int = 250, fps: int = 25) -> Path:
    """A clip of flat grey frames with a moving bar (cheap to encode at any size)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {
            "preset": "ultrafast",
            "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0",
        }
        image = np.full((height, width, 3), 90, np.uint8)
        for t in range(frames):
            image[:, :] = 90
            x = (t * 8) % max(1, width - 16)
            image[:, x : x + 16] = 230
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak since start) of a process, in MB (Linux /proc)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def encode_vp9(path: Path, frames: int, width: int, height: int) -> Path:
    """Flat frames as VP9 (libx264 stops at 16384 pixels a side; the sweep's slivers were wider)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx-vp9", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(frames):
            image = np.full((height, width, 3), 4 * t, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def hostile_checkpoints(work: Path) -> dict[str, Path]:
    """The demo checkpoint changed as the hardening sweep changed it (issue 22)."""
    import torch

    from blvnet_edu.models.checkpoints import load_file
    from blvnet_edu.saved_run import SavedRun, payload_digest

    run = SavedRun.load(DEMO)
    paths = {}

    def sealed(name: str, change) -> None:
        payload = load_file(DEMO)
        change(payload)
        payload["sha256"] = payload_digest(payload)
        torch.save(payload, work / f"{name}.pt")
        paths[name] = work / f"{name}.pt"

    sealed("100,000 blocks in stage 4", lambda p: p["model_config"].update(layers=[2, 2, 2, 100_000]))
    sealed("a 100,000-pixel crop", lambda p: p.update(preprocessing={"size": 100_000, "resize": 100_000}))
    sealed("NaN weights", lambda p: p["model"]["fc.weight"].fill_(float("nan")))
    sealed("a class name twice", lambda p: p["classes"].__setitem__(1, p["classes"][0]))
    payload = load_file(DEMO)
    payload["model"]["fc.bias"] += 1
    del payload["sha256"]
    torch.save(payload, work / "stripped.pt")
    paths["an edited bias, its digest removed"] = work / "stripped.pt"
    data = bytearray(DEMO.read_bytes())
    for i in range(4096):  # 4096 flipped bytes, spread over the weights
        data[len(data) // 4 + 97 * i] ^= 0xFF
    (work / "flipped.pt").write_bytes(data)
    paths["4096 flipped bytes"] = work / "flipped.pt"
    assert run.classes  # the demo itself loads
    return paths


@dataclasses.dataclass
class Case:
    name: str
    request: object  # client -> result
    parallel: int = 1  # copies sent at once
    beside: object = None  # the other visitor's request (default: `/predict` on an example)


def run_case(client_factory, case: Case, normal) -> dict:
    normal = case.beside or normal
    clients = [client_factory() for _ in range(case.parallel)]
    normal_client = client_factory()

    def timed(call, client):
        start = time.perf_counter()
        try:
            result, error = call(client), None
        except Exception as err:  # AppError: the server's message
            result, error = None, str(err).splitlines()[0]
        return result, error, time.perf_counter() - start

    with concurrent.futures.ThreadPoolExecutor(case.parallel + 1) as pool:
        futures = [pool.submit(timed, case.request, c) for c in clients]
        time.sleep(0.05)  # the case first, then the normal visitor
        beside = pool.submit(timed, normal, normal_client)
        outcomes = [f.result() for f in futures]
        _, normal_error, normal_seconds = beside.result()
    if normal_error:
        raise RuntimeError(f"the normal request failed beside {case.name}: {normal_error}")
    result, error, seconds = outcomes[0]
    return {
        "error": error,
        "result": result,
        "seconds": max(o[2] for o in outcomes),
        "normal": normal_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller files (seconds, for the test suite)")
    parser.add_argument(
        "--max-rss-mb", type=float, default=1500, help="the documented bound on the server's peak"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of every case (the peak should not grow)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "app_limits.md")
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    from blvnet_edu.saved_run import SavedRun

    work = Path(tempfile.mkdtemp(prefix="app-limits-"))
    q = args.quick
    files = {
        "8k": encode(work / "8k.mp4", 2, 7680, 4320) if not q else encode(work / "8k.mp4", 2, 4800, 2700),
        "4000x3000": encode(work / "4000x3000.mp4", 4, 4000, 3000) if not q else None,
        "4k": encode(work / "4k.mp4", 16 if not q else 8, 3840, 2160, keyint=8),
        "one key frame": encode(work / "one_key.mp4", 90_000 if not q else 3_000, 64, 48, keyint=10**7),
        "30000x4": encode_vp9(work / "wide.mp4", 32, 30_000, 4),
        "4x30000": encode_vp9(work / "tall.mp4", 32, 4, 30_000),
        "60000x4": encode_vp9(work / "wider.mp4", 8, 60_000, 4),
    }
    checkpoints = hostile_checkpoints(work)
    run = SavedRun.load(DEMO)
    names = [f"class {i}" for i in range(300_000)]
    config = dataclasses.replace(run.config, num_classes=300_000)
    dataclasses.replace(run, config=config, classes=names).save(work / "classes.pt")
    (work / "labels.txt").write_text("".join(f"class {i}\n" for i in range(300_000)))
    sizes = {k: f"{v.stat().st_size / 1e3:.0f} KB" for k, v in files.items() if v}

    port = free_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(work / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False"}
    log = (work / "server.log").open(
        "w"
    )  # a file, not a pipe: a full pipe nobody reads would block the server
    server = subprocess.Popen(
        [sys.executable, "-c", f"from blvnet_edu.cli import main; main(['app', '--port', '{port}'])"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(
                        f"the server stopped: {(work / 'server.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.5)
        started = memory_mb(server.pid)
        client = lambda: Client(url, verbose=False)  # noqa: E731

        def predict(path, frames=8):
            return lambda c: c.predict(handle_file(str(path)), TAM, frames, None, api_name="/predict")

        def explain(method, frames):
            return lambda c: c.predict(
                handle_file(str(EXAMPLE)),
                TAM,
                frames,
                method,
                "black",
                None,
                "absolute_value",
                0.8,
                api_name="/explain",
            )

        def load(checkpoint, labels=None):
            return lambda c: c.predict(
                handle_file(str(checkpoint)),
                handle_file(str(labels)) if labels else None,
                "read from the checkpoint",
                "from the checkpoint",
                api_name="/load_checkpoint",
            )

        normal = predict(EXAMPLE)
        warm = client()
        for _ in range(2):
            normal(warm)
        alone = []
        for _ in range(5):
            start = time.perf_counter()
            normal(warm)
            alone.append(time.perf_counter() - start)
        alone_s = statistics.median(alone)
        cases = [
            Case(
                f"{'8K clip (7680x4320' if not q else 'clip over 4K (4800x2700'}, {sizes['8k']})",
                predict(files["8k"]),
            ),
            *([Case(f"4000x3000 clip ({sizes['4000x3000']})", predict(files["4000x3000"]))] if not q else []),
            Case(f"4K clip (3840x2160, {sizes['4k']}), 16 frames sampled", predict(files["4k"], 16)),
            Case("four 4K clips at once", predict(files["4k"], 16), parallel=4),
            Case(
                f"{'1 hour' if not q else '2 minutes'} behind one key frame (64x48, "
                f"{sizes['one key frame']})",
                predict(files["one key frame"], 16),
            ),
            Case("occlusion, 32 frames", explain("occlusion", 32)),
            *(
                [Case("integrated gradients, 32 frames", explain("integrated_gradients", 32))]
                if not q
                else []
            ),
            Case("checkpoint declaring 300,000 classes", load(work / "classes.pt")),
            Case("label file of 300,000 lines", load(DEMO, work / "labels.txt")),
            *(Case(f"checkpoint with {name}", load(path)) for name, path in checkpoints.items()),
            Case(f"30000x4 clip ({sizes['30000x4']}), 32 frames", predict(files["30000x4"], 32)),
            Case(f"4x30000 clip ({sizes['4x30000']}), 32 frames", predict(files["4x30000"], 32)),
            Case(f"60000x4 clip ({sizes['60000x4']}), 8 frames", predict(files["60000x4"], 8)),
            Case("100,000 frames asked for", predict(EXAMPLE, 100_000)),
            Case(
                "two occlusions at 32 frames, a saliency beside",
                explain("occlusion", 32),
                parallel=2,
                beside=explain("saliency", 8),
            ),
        ]
        rows = []
        for case in cases:
            outcome = run_case(client, case, normal)
            mem = memory_mb(server.pid)
            if outcome["error"]:
                answer = "refused: " + outcome["error"].replace("|", "/")
            else:
                note = (
                    outcome["result"][4]
                    if case.name.startswith(("occlusion", "integrated", "two occ"))
                    else ""
                )
                within = (
                    note.split("*Within the limits:* ")[1].rstrip(".")
                    if "*Within the limits:*" in note
                    else ""
                )
                answer = "served" + (f" ({within})" if within else "")
            rows.append(
                f"| {case.name} | {answer} | {outcome['seconds']:.2f} | {outcome['normal']:.2f} | "
                f"{mem['VmRSS']:.0f} | {mem['VmHWM']:.0f} |"
            )
            print(rows[-1], flush=True)
        first_peak = memory_mb(server.pid)["VmHWM"]
        for _ in range(args.rounds - 1):  # the same again: memory a leak adds shows as a higher peak
            for case in cases:
                start = time.perf_counter()
                run_case(client, case, normal)
                print(f"  again: {case.name}: {time.perf_counter() - start:.1f} s", flush=True)
        peak = memory_mb(server.pid)["VmHWM"]
        cache_mb = sum(p.stat().st_size for p in (work / "gradio").rglob("*") if p.is_file()) / 1e6
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    lines = [
        "# App limits: the server under large inputs",
        "",
        f"`python benchmarks/app_limits.py{' --quick' if q else ''}` — {platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}; the app with its default limits "
        "(`blvnet-edu app`, demo models), each case sent with a normal visitor's `/predict` on an "
        "example clip. Memory of the server process, MB: VmRSS after the case, VmHWM the peak since the "
        "start.",
        "",
        f"Server after start-up and warm-up: VmRSS {started['VmRSS']:.0f} MB. Normal `/predict` alone: "
        f"{alone_s:.2f} s (median of 5).",
        "",
        "| case | answer | case time (s) | the other visitor's request beside it (s) | VmRSS (MB) "
        "| VmHWM (MB) |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Peak server memory over all cases: {first_peak:.0f} MB; after {args.rounds} rounds of every case: "
        f"{peak:.0f} MB "
        f"(bound checked: {args.max_rss_mb:.0f} MB). "
        f"Gradio's cache at the end: {cache_mb:.1f} MB.",
    ]
    write_report(args.out, lines)
    if peak > args.max_rss_mb:
        print(
            f"the server's peak memory {peak:.0f} MB is over the bound of {args.max_rss_mb:.0f} MB",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
