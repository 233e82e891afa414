"""Where numbers were computed: the processor and the libraries whose arithmetic produced them.

Features and rounds are the same on one machine run after run, not across machines: ATen, oneDNN and MKL each
pick their kernels for the CPU at hand, and another instruction set moves the last digits of the vectors and of
the models' scores, which is enough to change which instances least confidence or CAL pick (docs/results.md
measures both). So the feature cache's entry files and the features files record the machine that computed
their vectors, each round's metrics the machine that ran it, and summaries say both, so that two results that
differ can be told apart by where they came from. Vectors read from a cache keep the machine of the file that
holds them: the same vectors, wherever they are reused, carry the same record (and a features file the same
bytes).
"""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cartal.errors import ArtifactError
from cartal.warm import ARITHMETIC_ENV  # one list, also in the warm worker's key (warm imports only the stdlib)

KEY = b"cartal.computed_on"  # in a Parquet file's metadata: a JSON list of machines
# the CPU's vector extensions that MKL and oneDNN choose among on their own, whatever torch reports for ATen
_VECTOR_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
UNRECORDED: dict = {}  # vectors cached before machines were recorded


def machine(kind: str, device: str = "cpu") -> dict:
    """The machine this process computes on, in the terms that change its numbers: the processor, and the
    versions of the libraries that do the arithmetic. ``kind``: "transformer" (a transformers model: the
    encoder, or the fine-tuned learner), "torch" (another torch model: the MLP) or "static" (numpy's sums);
    on the CPU, torch's also name the instruction set torch dispatches its kernels for."""
    cpuinfo = first_processor()
    record = {"cpu": cpu_model(cpuinfo), "arch": platform.machine()}
    flags = vector_flags(cpuinfo)
    if flags:
        record["flags"] = flags
    if kind in ("transformer", "torch"):
        import torch

        if device == "cpu":
            record["instructions"] = torch.backends.cpu.get_cpu_capability()
            forced = {name: os.environ[name] for name in ARITHMETIC_ENV if os.environ.get(name)}
            if forced:  # kernels other than the CPU's own: part of what computed the vectors
                record["forced"] = forced
        else:  # the accelerator's arithmetic, not the CPU's
            record["device"] = (torch.cuda.get_device_name(device) if device.startswith("cuda")
                                and torch.cuda.is_available() else device)
        record.update(_versions("torch", "transformers") if kind == "transformer" else _versions("torch"))
    else:
        record.update(_versions("numpy"))
    return record


def cpu_model(cpuinfo: dict[str, str]) -> str:
    """The processor's model name as Linux reports it (``cpuinfo``: first_processor's), else what the platform
    says."""
    return cpuinfo.get("model name") or platform.processor() or platform.machine() or "unknown"


def vector_flags(cpuinfo: dict[str, str]) -> list[str]:
    """Which of the vector extensions the math libraries dispatch on this CPU has (Linux; [] elsewhere)."""
    flags = set(cpuinfo.get("flags", "").split())
    return [flag for flag in _VECTOR_FLAGS if flag in flags]


def first_processor(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo, read once; {} where there is none."""
    fields: dict[str, str] = {}
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if not line.strip():
                break  # the first processor's block ends here
            name, _, value = line.partition(":")
            fields.setdefault(name.strip(), value.strip())
    except OSError:
        pass
    return fields


def encode(machines: list[dict]) -> bytes:
    return json.dumps(machines, sort_keys=True).encode()


def decode(value: bytes | None) -> list[dict]:
    """The machines a file's metadata records; [UNRECORDED] for a file written before they were recorded."""
    if not value:
        return [UNRECORDED]
    try:
        machines = json.loads(value)
    except ValueError:
        return [UNRECORDED]
    return [m for m in machines if isinstance(m, dict)] if isinstance(machines, list) else [UNRECORDED]


def distinct(machines) -> list[dict]:
    """Each machine once, in a fixed order (so that the same machines always give the same bytes)."""
    return [json.loads(text) for text in sorted({json.dumps(m, sort_keys=True) for m in machines})]


def read(path: str | Path) -> list[dict]:
    """The machines that computed a features (or cache entry) file's vectors."""
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise ArtifactError(f"{path}: cannot be read ({exc}); run `dvc repro` (the stage 'embed' writes it)") from exc
    return decode((schema.metadata or {}).get(KEY))


def words(machines: list[dict]) -> str:
    """One line for a summary: each machine's processor, instruction set and library versions."""
    if not machines:
        return "unrecorded"
    return "; ".join(_machine_words(m) for m in machines)


def _machine_words(m: dict) -> str:
    if not m:
        return "a machine not recorded (written before cartal recorded machines)"
    forced = " ".join(f"{name}={value}" for name, value in sorted((m.get("forced") or {}).items()))
    arch = " with ".join(v for v in (m.get("arch"), "/".join(m.get("flags") or [])) if v)
    kernels = f"torch kernels {m['instructions']}" if m.get("instructions") else ""
    where = m.get("device") or ", ".join(v for v in (arch, kernels, forced) if v)
    libraries = ", ".join(f"{name} {m[name]}" for name in ("torch", "transformers", "numpy") if m.get(name))
    return f"{m.get('cpu', 'unknown')} ({where}){', ' + libraries if libraries else ''}"


def _versions(*packages: str) -> dict[str, str]:
    out = {}
    for package in packages:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return out
