"""The feature cache: vectors looked up by the encoder's signature and the text, shared by every project.

A vector is a function of (encoder, text), so a change of split, labels or
oracle, which changes the prepared files but few of their texts, needs only
the new texts embedded. Layout: ``<root>/<signature digest>/`` holds
``signature.json`` (what the vectors depend on, for a human) and entry files
``*.parquet`` (key: the text's sha256, vector, truncated). An embed run never
changes a file: it adds one with the vectors it computed, written to a
temporary name and renamed into place, so that two queued experiments
embedding at once only add files and a reader sees a whole file or none. A
file that cannot be read, or that another signature wrote, is skipped with a
warning: the texts it held are embedded again. Each file records the machine
that computed its vectors (cartal.provenance).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cartal import provenance
from cartal.encoders.signature import digest
from cartal.errors import ArtifactError
from cartal.io import artifacts as art

log = logging.getLogger(__name__)

ENV = "CARTAL_FEATURE_CACHE"  # a folder, or "off"
OFF = "off"
ENTRIES = art.Kind("feature cache entry file", "embed",
                   (("key", pa.string()), ("vector", art.VECTOR), ("truncated", pa.bool_())))
_SIGNATURE = b"cartal.signature"  # the digest of the signature, in each entry file's metadata


def root() -> Path | None:
    """$CARTAL_FEATURE_CACHE, or $XDG_CACHE_HOME/cartal/features (~/.cache by default); None when it is off."""
    value = os.environ.get(ENV, "").strip()
    if value.lower() == OFF:
        return None
    if value:
        return Path(value).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "cartal" / "features"


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Entry:
    """A text's vector, whether the encoder cut the text to its length limit, and the machine that computed it
    (JSON, as provenance records it; "{}" where its file predates the record)."""

    vector: np.ndarray
    truncated: bool
    machine: str = "{}"


class FeatureCache:
    """The entries of one encoder signature."""

    def __init__(self, folder: Path, signature_digest: str):
        self.folder, self.digest = folder, signature_digest

    @classmethod
    def open(cls, root: Path, signature: dict) -> FeatureCache | None:
        """The signature's folder under ``root``, created if need be; None (with a warning) if it cannot be."""
        folder = root / digest(signature)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not (folder / "signature.json").is_file():
                art.write_json(signature, folder / "signature.json")
        except OSError as exc:
            log.warning("feature cache %s cannot be written (%s); every text is embedded. Set %s to a writable "
                        "folder, or to %s", folder, exc, ENV, OFF)
            return None
        return cls(folder, digest(signature))

    def lookup(self, keys: set[str]) -> dict[str, Entry]:
        """The entries of those ``keys`` the cache holds; the oldest file wins, so the same cache gives the same
        vectors."""
        found: dict[str, Entry] = {}
        for path in sorted(self.folder.glob("*.parquet")):
            wanted = keys - found.keys()
            if not wanted:
                break
            table = self._read(path)
            if table is None:
                continue
            machine = json.dumps(provenance.decode((table.schema.metadata or {}).get(provenance.KEY))[0],
                                 sort_keys=True)
            table = table.filter(pc.is_in(table["key"], value_set=pa.array(list(wanted), pa.string())))
            for key, vector, truncated in zip(table["key"].to_pylist(), art.vectors(table, "vector"),
                                              table["truncated"].to_pylist()):
                found.setdefault(key, Entry(vector, truncated, machine))
        return found

    def store(self, entries: dict[str, Entry], machine: dict) -> None:
        """Add ``entries``, computed on ``machine``, as a new file; a failure to write costs the next run time,
        never this run its features."""
        if not entries:
            return
        table = art.table_from_columns(ENTRIES, {"key": list(entries),
                                                 "vector": np.stack([e.vector for e in entries.values()]),
                                                 "truncated": [e.truncated for e in entries.values()]})
        # time first: files sort by age, which lookup relies on; pid and random bits: concurrent writers never collide
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            art.write_table(table.replace_schema_metadata({_SIGNATURE: self.digest.encode(),
                                                           provenance.KEY: provenance.encode([machine])}),
                            self.folder / f"{name}.parquet", ENTRIES)
        except OSError as exc:
            log.warning("feature cache: could not store %d vectors in %s (%s)", len(entries), self.folder, exc)

    def _read(self, path: Path) -> pa.Table | None:
        try:
            schema = pq.read_schema(path)
            art.check_schema(schema, ENTRIES, source=str(path))
            if (schema.metadata or {}).get(_SIGNATURE) != self.digest.encode():
                raise ArtifactError(f"{path}: written for another encoder signature")
            return pq.read_table(path)
        except FileNotFoundError:  # deleted since it was listed: the cache is being cleared
            return None
        except (ArtifactError, pa.ArrowException, OSError) as exc:
            log.warning("feature cache: %s is ignored, it is not a readable entry file of this encoder (%s); "
                        "its texts are embedded again. Delete the file if this repeats", path, exc)
            return None
