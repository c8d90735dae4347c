"""What the launched-app benchmarks and load tests share: a real server process on a loopback port
(its resident memory included), a visitor's Sketchpad value, one gradio_client Client per simulated
visitor (a Client shared across threads gets CancelledErrors from the client itself, against a
bare Gradio app too), and `hammer`, many such visitors at once, bounded in time."""
import concurrent.futures
import itertools
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
BARE_APP = "benchmarks/bare_app.py"

# --- processes ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# What a Hugging Face Space sets when it starts a Gradio app: SSR on (a Node proxy on the public
# port in front of Python on the next free one), and the Space's identity.
SPACE_ENV = {"GRADIO_SSR_MODE": "true", "SYSTEM": "spaces", "SPACE_ID": "digit-lab/digit-lab"}
SSR_LINE = "with SSR ⚡ (Node proxy -> Python"  # what Gradio prints once Node fronts it


class Server:
    """`python <script>` on a free loopback port, timed from the moment it is started. With
    GRADIO_SSR_MODE=true in `env_extra` (SPACE_ENV) it waits until Gradio says Node fronts it, and
    fails rather than test a Python-only page that Gradio fell back to."""

    def __init__(self, script: str = "app.py", env_extra: dict | None = None, timeout: float = 120):
        self.script = script
        self.started = time.perf_counter()
        deadline = self.started + timeout
        while not self._start(env_extra or {}, deadline):
            pass  # the free port was taken before the app bound it (another test process): again

    def _start(self, env_extra: dict, deadline: float) -> bool:
        """Start on a free port and wait until this process serves it: True; False if the port was
        taken in the meantime. Any other end is an error that says where the log is."""
        import httpx

        port = free_port()
        env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
               "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **env_extra}
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / f"server-{Path(self.script).stem}-{port}.log"
        self.url = f"http://127.0.0.1:{port}/"
        # Gradio's line once it listens; with SSR it names the Node proxy in front of Python.
        listening = re.compile(rf"Running on local URL:\s+http://127\.0\.0\.1:{port}\b.*"
                               + (re.escape(SSR_LINE) if env.get("GRADIO_SSR_MODE", "").lower() == "true" else ""))
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen([sys.executable, self.script], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        while time.perf_counter() < deadline:
            log = self.log_path.read_text(errors="replace")
            if self.process.poll() is not None:
                if "Cannot find empty port" in log:
                    return False
                raise RuntimeError(f"{self.script} exited with {self.process.returncode}; see {self.log_path}")
            try:
                # The page answering is not enough: another process may hold the port we were given.
                if listening.search(log) and httpx.get(self.url, timeout=2).status_code == 200:
                    self.page_s = time.perf_counter() - self.started
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.script} did not answer (with SSR where asked) within {deadline - self.started:.0f} s; see {self.log_path}")

    def rss_mib(self) -> float:
        """Resident memory of the server and any processes it started."""
        return sum(_rss_kib(pid) for pid in _tree(self.process.pid)) / 1024

    def loads_torch(self) -> bool:
        """Whether libtorch is mapped into the server process (i.e. torch was imported)."""
        try:
            maps = Path(f"/proc/{self.process.pid}/maps").read_text()
        except OSError:
            return False
        return "libtorch" in maps or "/torch/_C" in maps

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
    return pids


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- what a visitor sends --------------------------------------------------------------------

def sketch_value(folder: Path, digit: int = 7, variant: int = 0, size: int = 252) -> dict:
    """A Sketchpad value as the browser sends it: a white background (the Draw tab's canvas is 252 px
    of white paper), a transparent layer with a black stroke, and their composite, as PNG files for
    gradio_client to upload. `variant` > 0 moves the stroke's points a little (the same digit drawn
    by another hand), so concurrent visitors need not send identical pixels."""
    from gradio_client import handle_file
    from PIL import Image, ImageDraw

    strokes = {  # polylines in a unit square
        1: [[(0.5, 0.15), (0.5, 0.85)]],
        7: [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]],
        0: [[(0.5, 0.15), (0.72, 0.3), (0.72, 0.7), (0.5, 0.85), (0.28, 0.7), (0.28, 0.3), (0.5, 0.15)]],
    }[digit]
    jitter = np.random.default_rng(variant).uniform(-0.04, 0.04, (16, 2)) if variant else np.zeros((16, 2))
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(layer)
    for line in strokes:
        points = [((x + dx) * size, (y + dy) * size) for (x, y), (dx, dy) in zip(line, jitter)]
        pen.line(points, fill=(0, 0, 0, 255), width=size // 14, joint="curve")
    background = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    composite = Image.alpha_composite(background, layer)
    paths = {}
    for name, picture in (("background", background), ("layer", layer), ("composite", composite)):
        paths[name] = folder / f"sketch-{digit}-{variant}-{name}.png"
        picture.save(paths[name])
    return {"background": handle_file(paths["background"]), "layers": [handle_file(paths["layer"])],
            "composite": handle_file(paths["composite"])}


def first_output(result):
    """An endpoint with several outputs answers a tuple; the label is the first."""
    return result[0] if isinstance(result, (tuple, list)) else result


def client_for(url: str, timeout: float = 5.0, headers: dict | None = None, download_files: str | Path | None = None):
    """A gradio_client Client. Its HTTP calls (uploads, downloads) time out after `timeout` s:
    the library's 5 s default suits one visitor; under load a browser would wait longer.
    `headers` go with every request (e.g. the X-Forwarded-For a Space's proxy would add);
    `download_files` is where answers' files are saved (the library's default: /tmp/gradio)."""
    from gradio_client import Client

    extra = {"download_files": str(download_files)} if download_files is not None else {}
    return Client(url, verbose=False, analytics_enabled=False, httpx_kwargs={"timeout": timeout}, headers=headers, **extra)


def endpoints(client) -> dict:
    return client.view_api(return_format="dict", print_info=False)["named_endpoints"]



def summary(seconds: list[float]) -> dict:
    if not seconds:
        return {"median_ms": None, "p95_ms": None, "calls": 0}
    return {"median_ms": statistics.median(seconds) * 1e3, "p95_ms": float(np.percentile(seconds, 95)) * 1e3, "calls": len(seconds)}



def hammer(url: str, api_name: str, args, clients: int, seconds: float, check=None, timeout: float = 30,
           calls: int | None = None) -> dict:
    """`clients` threads, each its own Client, calling `api_name` back to back for `seconds` (or
    until `calls` calls, all clients together, have started, whichever comes first).
    args: the call's arguments, or a function of the client's index giving them (so visitors can
    differ). check(result) may raise to count a wrong answer as an error. Bounded: every call and
    every HTTP request has a timeout, and the threads are joined with one."""
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        made = list(pool.map(lambda _: client_for(url, timeout), range(clients)))
    latencies, errors, answered, lock = [], [], set(), threading.Lock()
    stop_at = time.perf_counter() + seconds
    tickets = itertools.count()

    def worker(index, client):
        arguments = args(index) if callable(args) else args
        while time.perf_counter() < stop_at and (calls is None or next(tickets) < calls):
            start = time.perf_counter()
            try:
                result = client.submit(*arguments, api_name=api_name).result(timeout=timeout)
                if check:
                    check(result)
                with lock:
                    latencies.append(time.perf_counter() - start)
                    answered.add(id(client))
            except Exception as error:  # any failure is a figure here, not a crash
                with lock:
                    errors.append(f"{type(error).__name__}: {error}"[:200] + _where(error))

    threads = [threading.Thread(target=worker, args=(i, c), daemon=True) for i, c in enumerate(made)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    deadline = stop_at + timeout + 5  # the last call may start just before stop_at
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.perf_counter()))
    elapsed = time.perf_counter() - began
    hung = sum(t.is_alive() for t in threads)
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:  # each close waits up to 1 s on its heartbeat
        list(pool.map(lambda c: c.close(), made))
    return {"clients": clients, "seconds": elapsed, "answers": len(latencies), "errors": len(errors) + hung,
            "per_second": len(latencies) / elapsed, "clients_answered": len(answered), "first_errors": sorted(set(errors))[:3],
            "hung_threads": hung, **{f"latency_{k}": v for k, v in summary(latencies).items()}}


def _where(error: BaseException) -> str:
    """Which gradio_client step failed (upload, join, stream, download), for the error message."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "gradio_client" in f.filename]
    return f" (in gradio_client {Path(frames[-1].filename).name}:{frames[-1].name})" if frames else ""



class Visitor:
    """One visitor doing over plain HTTP what the page does for /classify: upload the Sketchpad's
    PNGs, call the endpoint under the visitor's own session, fetch the answer's images. It costs
    the measuring side a fraction of what gradio_client does per call (which, on 2 shared cores,
    took more CPU than the server it measured), so the soak reaches 10,000 calls in minutes.
    The load tests keep gradio_client, one Client per visitor."""

    def __init__(self, url: str, files: dict, timeout: float = 60):
        import uuid

        import httpx

        self.url, self.files = url, files  # files: background, layer, composite -> Path
        self.session = uuid.uuid4().hex[:11]
        self.http = httpx.Client(timeout=timeout)

    def classify(self) -> dict:
        uploads = [("files", (path.name, path.read_bytes(), "image/png")) for path in self.files.values()]
        response = self.http.post(self.url + "gradio_api/upload", files=uploads)
        response.raise_for_status()
        background, layer, composite = [{"path": p, "meta": {"_type": "gradio.FileData"}} for p in response.json()]
        value = {"background": background, "layers": [layer], "composite": composite}  # then the session state input
        response = self.http.post(self.url + "gradio_api/run/classify", json={"data": [value, None], "session_hash": self.session})
        response.raise_for_status()
        outputs = response.json()["data"]
        for output in outputs:
            if isinstance(output, dict) and output.get("url"):
                self.http.get(output["url"]).raise_for_status()
        return outputs[0]

    def close(self) -> None:
        self.http.close()


def sketch_files(folder: Path, digit: int = 7, variant: int = 0) -> dict:
    """The files of sketch_value, by part."""
    sketch_value(folder, digit, variant)
    return {part: folder / f"sketch-{digit}-{variant}-{part}.png" for part in ("background", "layer", "composite")}
