"""Copy throughput of the registration/copy routine (registry.storage_copy.copy_tree: kernel copy, every byte of
the copy read back and checked against the checksum recorded at upload) against `cp -r` of the same files on the
same disk, in one run.

    .venv/bin/python bench/copy_throughput.py [--large-mb 1024] [--large-files 4] [--small-files 10000] [--repeat 5]
    .venv/bin/python bench/copy_throughput.py --only same-store   # just "copy of a 1 GiB version, same store"
    .venv/bin/python bench/copy_throughput.py --only s3 [--s3-sizes-mb 64,1024]   # S3 server-side copy vs
        # download + upload through the worker, on moto's server started here (or --s3-endpoint URL --s3-bucket B
        # with the AWS_* credentials of the environment)
    ARTIFACT_COPY_VERIFY=sha256 .venv/bin/python bench/copy_throughput.py   # verify with SHA-256 instead of CRC-32

Works in a scratch directory under var/ (same disk as the artifact store) and removes it afterwards."""
from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup(scratch: Path) -> None:
    os.environ["VAR_DIR"] = str(scratch / "var")
    os.environ["ARTIFACT_ROOT"] = str(scratch / "store")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "explorer.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # the artifact manifest lives in the database


class _RandomStream:
    """`total` bytes of incompressible data, read in chunks, as an upload arrives."""

    def __init__(self, total: int, block: bytes):
        self.left, self.block = total, block

    def read(self, n: int = -1) -> bytes:
        n = min(self.left, len(self.block) if n is None or n < 0 else n, len(self.block))
        self.left -= n
        return self.block[:n]


def _write_large(prefix: str, total_mb: int, count: int) -> None:
    """Upload through the storage layer, as the artifacts API does (so the manifest records each checksum)."""
    from registry import storage

    block = os.urandom(16 * 1024 * 1024)
    per_file = total_mb * 1024 * 1024 // count
    for index in range(count):
        storage.save_stream(f"{prefix}/weights-{index}.bin", _RandomStream(per_file, block[index:] + block[:index]))
    storage.save_stream(f"{prefix}/MLmodel", io.BytesIO(b"artifact_path: model\n"))


def _write_small(prefix: str, count: int, size: int = 4096) -> None:
    from django.db import transaction

    from registry import storage

    with transaction.atomic():
        for index in range(count):
            storage.save_stream(f"{prefix}/d{index // 1000:02d}/f{index:05d}.bin", io.BytesIO(os.urandom(size)))


def _timed(fn) -> tuple[float, float]:
    """(seconds until `fn` returns, seconds until its writes are on disk as well)."""
    os.sync()
    began = time.perf_counter()
    fn()
    returned = time.perf_counter() - began
    os.sync()
    return returned, time.perf_counter() - began


def _cp(src: Path, dst: Path) -> tuple[float, float]:
    return _timed(lambda: subprocess.run(["cp", "-r", str(src), str(dst)], check=True))


def _ours(src_rel: str, dst_rel: str) -> tuple[float, float]:
    from registry import storage, storage_copy

    def run():
        files = list(storage.walk_files(src_rel))
        storage_copy.copy_tree(src_rel, dst_rel, files)

    return _timed(run)


def _same_store_version_copy(store: Path, large_mb: int, large_files: int, repeat: int) -> dict:
    """"Copy of a 1 GiB version, same store": what a same-store copy_model_version does in the request
    (registration.copy_now: hard links verified by the manifest, manifest rows, directory fsync), timed until
    durable, against `cp -r` (a byte copy) of the same files until durable. Median of `repeat` rounds."""
    from registry import storage, storage_copy

    def ours():
        files = list(storage.walk_files("src-large"))
        storage_copy.copy_tree("src-large", "linked", files, instant_only=True)
        storage.flush_tree("linked")

    cp_runs, ours_runs = [], []
    for _ in range(repeat):
        _settle(store / "src-large")
        cp_runs.append(_cp(store / "src-large", store / "cp-linked")[1])
        shutil.rmtree(store / "cp-linked")
        _settle(store / "src-large")
        began = time.perf_counter()
        ours()
        ours_runs.append(time.perf_counter() - began)
        storage.delete_tree("linked")
    cp_s, ours_s = statistics.median(cp_runs), statistics.median(ours_runs)
    return {"case": "same-store", "files": large_files + 1, "MB": large_mb, "cp_sync_s": cp_s, "ours_sync_s": ours_s}


def _settle(src: Path) -> None:
    """Same starting point for every timed copy: nothing dirty, the page cache emptied (when allowed), then
    the source read once so both sides copy from a warm cache. Without this, whichever copy runs second pays
    for the first one's pages (here the second of two identical `cp -r` took 8x longer)."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        pass
    subprocess.run(f"find {src} -type f -exec cat {{}} + > /dev/null", shell=True, check=True)


def _case(store: Path, name: str, total_bytes: int, files: int, *, repeat: int, source: str | None = None) -> dict:
    """Median of `repeat` alternating rounds (cp, ours, cp, ours, ...): other load on the machine hits both."""
    from registry import storage

    src = store / f"src-{source or name}"
    cp_runs, ours_runs = [], []
    for _ in range(repeat):
        _settle(src)
        cp_runs.append(_cp(src, store / f"cp-{name}"))
        shutil.rmtree(store / f"cp-{name}")
        _settle(src)
        ours_runs.append(_ours(f"src-{source or name}", f"ours-{name}"))
        storage.delete_tree(f"ours-{name}")
    cp_time, cp_durable = (statistics.median(run[i] for run in cp_runs) for i in (0, 1))
    ours_time, ours_durable = (statistics.median(run[i] for run in ours_runs) for i in (0, 1))
    mb = total_bytes / 1024 / 1024
    return {"case": name, "files": files, "MB": mb, "cp_s": cp_time, "ours_s": ours_time,
            "cp_MBps": mb / cp_time, "ours_MBps": mb / ours_time, "ratio": cp_time / ours_time,
            "cp_sync_s": cp_durable, "ours_sync_s": ours_durable, "sync_ratio": cp_durable / ours_durable}


def _s3_cases(args, scratch: Path) -> int:
    """A version of `large_files` files + MLmodel per size on S3: its copy inside the store (storage_copy.copy_tree:
    CopyObject per file, what a same-store copy_model_version does on S3) against the same files downloaded and
    uploaded again through this process (what a copy would cost if the worker moved the bytes), median of
    `repeat` rounds each."""
    import uuid

    from django.conf import settings

    from registry import storage, storage_copy

    server = None
    if args.s3_endpoint:
        endpoint, bucket = args.s3_endpoint, args.s3_bucket
    else:
        from tests.s3 import BUCKET, CREDENTIALS, S3Server

        server = S3Server(scratch / "moto.log")
        server.start()
        os.environ.update(CREDENTIALS)
        endpoint, bucket = server.url, BUCKET
    try:
        settings.AWS_S3_ENDPOINT_URL = endpoint
        settings.AWS_S3_ADDRESSING_STYLE = "path"
        settings.ARTIFACT_STORE = f"s3://{bucket}/bench-{uuid.uuid4().hex[:8]}"
        settings.ARTIFACT_STORE_RECHECK_SECONDS = 3600
        storage._backend.cache_clear()
        storage.forget_active_store()
        print(f"S3 at {endpoint} ({'moto, this machine' if server else 'given'}), store {settings.ARTIFACT_STORE}")
        print("wall = elapsed; cpu = CPU seconds of this (the worker's) process")
        print(f"{'version MB':>10} {'files':>6} {'server-side copy s':>19} {'download+upload s':>18} {'ratio':>7} "
              f"{'copy cpu s':>16} {'d+u cpu s':>17}")
        for size_mb in (int(x) for x in args.s3_sizes_mb.split(",")):
            source = f"src-{size_mb}"
            _write_large(source, size_mb, args.large_files)
            files = list(storage.walk_files(source))
            copy_runs, stream_runs, copy_cpu, stream_cpu = [], [], [], []
            for round_ in range(args.repeat):
                began, cpu = time.perf_counter(), time.process_time()
                storage_copy.copy_tree(source, f"copy-{size_mb}-{round_}", files)
                copy_runs.append(time.perf_counter() - began)
                copy_cpu.append(time.process_time() - cpu)
                storage.delete_tree(f"copy-{size_mb}-{round_}")
                began, cpu = time.perf_counter(), time.process_time()
                for rel, _ in files:
                    with storage.open_read(f"{source}/{rel}") as handle:
                        storage.save_stream(f"streamed-{size_mb}-{round_}/{rel}", handle)
                stream_runs.append(time.perf_counter() - began)
                stream_cpu.append(time.process_time() - cpu)
                storage.delete_tree(f"streamed-{size_mb}-{round_}")
            copy_s, stream_s = statistics.median(copy_runs), statistics.median(stream_runs)
            print(f"{size_mb:>10} {len(files):>6} {copy_s:>19.3f} {stream_s:>18.2f} {stream_s / copy_s:>6.0f}x "
                  f"{statistics.median(copy_cpu):>16.3f} {statistics.median(stream_cpu):>17.2f}", flush=True)
            storage.delete_tree(source)
        return 0
    finally:
        if server is not None:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-mb", type=int, default=1024)
    parser.add_argument("--large-files", type=int, default=4)
    parser.add_argument("--small-files", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5, help="rounds per case; the median is shown")
    parser.add_argument("--only", choices=["same-store", "s3"], help="run one case only")
    parser.add_argument("--s3-sizes-mb", default="64,1024", help="version sizes of the S3 case (comma-separated)")
    parser.add_argument("--s3-endpoint", default="", help="an S3-compatible server instead of moto's")
    parser.add_argument("--s3-bucket", default="artifacts")
    args = parser.parse_args()
    (ROOT / "var").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-copy-", dir=ROOT / "var"))
    try:
        _setup(scratch)
        store = scratch / "store"
        from django.conf import settings

        print(f"verification {settings.ARTIFACT_COPY_VERIFY}; median of {args.repeat} rounds; scratch {scratch}",
              flush=True)
        if args.only == "s3":
            return _s3_cases(args, scratch)
        _write_large("src-large", args.large_mb, args.large_files)
        same_store = _same_store_version_copy(store, args.large_mb, args.large_files, args.repeat)
        print(f"copy of a {args.large_mb} MiB version, same store (hard links, until durable): "
              f"{same_store['ours_sync_s'] * 1000:.1f} ms; cp -r + sync of the same files: "
              f"{same_store['cp_sync_s']:.2f} s", flush=True)
        if args.only:
            return 0
        settings.ARTIFACT_COPY_LINKS = False  # the cases below measure the byte copy against cp
        _write_small("src-small", args.small_files)
        large_bytes = args.large_mb * 1024 * 1024
        results = [
            _case(store, "large", large_bytes, args.large_files + 1, repeat=args.repeat),
            _case(store, "small", args.small_files * 4096, args.small_files, repeat=args.repeat),
        ]
        # The same large files without their manifest entries (artifacts written before the manifest
        # existed, or by other means): the copy must hash the source as well.
        from registry import artifact_manifest

        artifact_manifest.forget("src-large")
        results.append(_case(store, "large-unrecorded", large_bytes, args.large_files + 1, repeat=args.repeat,
                             source="large"))
        print("copy = until the command returns (page cache); +sync = until the bytes are on disk")
        print(f"{'case':18} {'files':>6} {'MB':>6} {'cp s':>6} {'ours s':>7} {'ours/cp':>8} "
              f"{'cp+sync s':>10} {'ours+sync s':>12} {'ours/cp':>8}")
        for r in results:
            print(f"{r['case']:18} {r['files']:>6} {r['MB']:>6.0f} {r['cp_s']:>6.2f} {r['ours_s']:>7.2f} "
                  f"{r['ratio']:>8.0%} {r['cp_sync_s']:>10.2f} {r['ours_sync_s']:>12.2f} {r['sync_ratio']:>8.0%}")
        large = results[0]
        print(f"large files: {large['ratio']:.0%} of cp throughput to the page cache, {large['sync_ratio']:.0%} "
              "to disk (target >= 70%)")
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
