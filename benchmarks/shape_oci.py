"""The OCI wing's rows of the benchmark database: what current clients push, beside schema 1.

:class:`OCIRows` is called by :class:`shape.Generator` once per repository, after that
repository's pre-OCI rows, so the fill holds both wings in the same repositories (as a
registry does during the backfill). Per repository it writes, with a random stream of its
own (the pre-OCI rows stay what they were):

- OCI image manifests (exact bytes, digests of those bytes), about one per three tag rows,
  each on a chain of the repository's images (its layers are those images' blobs, base
  first, plus a config blob of its own), with the layer history the legacy view reads;
- now and then an OCI index over two of them (about one repository in twenty) and a
  signature referring to one of them (one in ten), as multi-arch builds and cosign push;
- OCI tag rows (milliseconds) matching the pre-OCI tag rows in number: alive names with a
  few scheduled ends and hidden ones, ended rows in and beyond the time machine;
- labels on some manifests (``oci_manifest_label``).

The two subjects have fixed shapes at every scale, so a read timed on them at 1% and at 100%
does the same work on a bigger database:

- ``bench-small/small``: 2 image manifests (``latest`` on the pre-OCI ``latest`` chain, 9
  layers, and one of 2 layers), an index over both, 2 referrers of ``latest`` (a signature
  and an SBOM), 3 alive tags (``latest``, one on the other image, one on the index) and 2
  ended rows, 3 labels on ``latest``: 13 legacy images (a referrer's layer is one too);
- ``bench-large/largest``: 200 image manifests (``latest`` 100 layers deep, the others 1 to
  19 layers of the same chains: about 2,000 legacy images, as many as its pre-OCI images),
  20 indexes of 2 to 10 children, 20 referrers of ``latest`` (signatures, SBOMs,
  attestations), 2,000 alive tags and 1,000 ended rows, 50 labels on ``latest``.

A layer's history step (created, created_by) is the one of the pre-OCI image it comes from,
so manifests built on one base repeat its steps, as images built on a base image do.
"""
import hashlib
import json
import random
from datetime import UTC, datetime
from typing import Optional

OCI_TABLES = {
    "oci_manifest": ("id", "repository_id", "digest", "media_type_id", "manifest_bytes",
                     "config_media_type", "artifact_type", "subject",
                     "layers_compressed_size", "layer_history"),
    "oci_manifest_blob": ("id", "repository_id", "manifest_id", "blob_id"),
    "oci_manifest_child": ("id", "repository_id", "manifest_id", "child_manifest_id"),
    "oci_tag": ("id", "repository_id", "name", "manifest_id", "lifetime_start_ms",
                "lifetime_end_ms", "hidden", "reversion", "immutable"),
    "oci_manifest_label": ("id", "repository_id", "manifest_id", "label_id"),
}

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
EMPTY_DESCRIPTOR = {"mediaType": EMPTY_CONFIG, "digest": "sha256:" + hashlib.sha256(
    b"{}").hexdigest(), "size": 2}
ARTIFACT_TYPES = ("application/vnd.dev.cosign.artifact.sig.v1+json",
                  "application/spdx+json", "application/vnd.in-toto+json")
PLATFORMS = ({"architecture": "amd64", "os": "linux"}, {"architecture": "arm64", "os": "linux"},
             {"architecture": "arm", "os": "linux", "variant": "v7"},
             {"architecture": "ppc64le", "os": "linux"}, {"architecture": "s390x", "os": "linux"})


class OCIShape:
    """How many OCI manifests, indexes and referrers a subject repository holds."""

    def __init__(self, images: int, indexes: int, referrers: int) -> None:
        self.images, self.indexes, self.referrers = images, indexes, referrers


SUBJECT_SHAPES = {"small": OCIShape(images=2, indexes=1, referrers=2),
                  "largest": OCIShape(images=200, indexes=20, referrers=20)}
DAY_S = 24 * 3600
MAX_OWN_DEPTH = 19  # layers of an image manifest other than a subject's ``latest``


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _dumps(document: dict) -> bytes:
    return json.dumps(document, indent=3).encode()


class OCIRows:
    """Emits the OCI rows of one repository at a time through the pre-OCI generator."""

    def __init__(self, generator, subject_tag: str, dead_tag: str) -> None:
        self.g = generator
        self.subject_tag, self.dead_tag = subject_tag, dead_tag
        self.media = {name: generator.lookups["media:" + name]
                      for name in (OCI_MANIFEST, OCI_INDEX)}

    # --- manifests --------------------------------------------------------------------

    def _manifest_row(self, repository_id: int, data: bytes, media: str,
                      config_media: Optional[str], artifact_type: Optional[str],
                      subject: Optional[str], layers_size: Optional[int],
                      history: Optional[list]) -> tuple:
        manifest_id = self.g.ids.take("oci_manifest")
        digest = _digest(data)
        self.g.emit("oci_manifest", (
            manifest_id, repository_id, digest, self.media[media], data, config_media,
            artifact_type, subject, layers_size,
            json.dumps(history, ensure_ascii=False) if history is not None else None))
        return manifest_id, digest, len(data)

    def _blob_links(self, repository_id: int, manifest_id: int, blob_ids: list) -> None:
        for blob_id in dict.fromkeys(blob_ids):
            self.g.emit("oci_manifest_blob", (self.g.ids.take("oci_manifest_blob"),
                                              repository_id, manifest_id, blob_id))

    def _image(self, rng: random.Random, repository_id: int, top, seed: str) -> tuple:
        """An OCI image manifest of ``top``'s chain: ``(id, digest, size)``."""
        chain = []
        node = top
        while node is not None:
            chain.append(node)
            node = node.parent
        chain.reverse()  # base first
        # A layer's history step is its image's: images on one base repeat its steps.
        history = [{"digest": image.digest, "size": image.aggregate - (
                    image.parent.aggregate if image.parent is not None else 0),
                    "created": _rfc3339(self.g.now - DAY_S - image.id * 104_729 % (399 * DAY_S)),
                    "created_by": "/bin/sh -c #(nop) RUN build step %d" % image.depth,
                    "comment": None}
                   for image in chain]
        config = ('{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin"]},'
                  '"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s],"seed":"%s"}'
                  % (",".join('"sha256:%064x"' % rng.getrandbits(256) for _ in chain),
                     ",".join('{"created":"%s","created_by":"%s"}'
                              % (entry["created"], entry["created_by"]) for entry in history),
                     seed)).encode()
        config_id, config_digest = self.g._storage(rng, len(config))
        document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": config_digest,
                               "size": len(config)},
                    "layers": [{"mediaType": OCI_LAYER, "digest": entry["digest"],
                                "size": entry["size"]} for entry in history]}
        row = self._manifest_row(repository_id, _dumps(document), OCI_MANIFEST, OCI_CONFIG,
                                 None, None, sum(entry["size"] for entry in history), history)
        self._blob_links(repository_id, row[0], [config_id] + [i.storage_id for i in chain])
        return row

    def _index(self, rng: random.Random, repository_id: int, children: list) -> tuple:
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                    "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
                                   "platform": PLATFORMS[place % len(PLATFORMS)]}
                                  for place, (_, digest, size) in enumerate(children)],
                    "annotations": {"org.opencontainers.image.created": _rfc3339(
                        self.g.now - rng.randint(3600, 90 * 24 * 3600))}}
        row = self._manifest_row(repository_id, _dumps(document), OCI_INDEX, None, None, None,
                                 None, None)
        for child_id in sorted({child[0] for child in children}):
            self.g.emit("oci_manifest_child", (self.g.ids.take("oci_manifest_child"),
                                               repository_id, row[0], child_id))
        return row

    def _referrer(self, rng: random.Random, repository_id: int, subject: tuple,
                  place: int) -> tuple:
        artifact_type = ARTIFACT_TYPES[place % len(ARTIFACT_TYPES)]
        size = rng.randint(200, 40_000)
        blob_id, blob_digest = self.g._storage(rng, size)
        document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "artifactType": artifact_type, "config": EMPTY_DESCRIPTOR,
                    "layers": [{"mediaType": artifact_type, "digest": blob_digest,
                                "size": size}],
                    "subject": {"mediaType": OCI_MANIFEST, "digest": subject[1],
                                "size": subject[2]},
                    "annotations": {"org.opencontainers.image.created": _rfc3339(
                        self.g.now - rng.randint(60, 30 * 24 * 3600)),
                        "dev.example.place": str(place)}}
        history = [{"digest": blob_digest, "size": size, "created": None, "created_by": None,
                    "comment": None}]
        row = self._manifest_row(repository_id, _dumps(document), OCI_MANIFEST, EMPTY_CONFIG,
                                 artifact_type, subject[1], size, history)
        self._blob_links(repository_id, row[0], [blob_id])
        return row

    # --- one repository ---------------------------------------------------------------

    def repository(self, repository_id: int, images: list, tips: list, alive: int, dead: int,
                   window_s: int, subject=None, label_rate: float = 0.2) -> None:
        """Every OCI row of the repository whose pre-OCI ``images`` and ``tips`` are given."""
        rng = random.Random("oci %d %d" % (self.g.seed, repository_id))
        shape = SUBJECT_SHAPES.get(subject.size_class) if subject is not None else None
        wanted = shape.images if shape else max(1, (alive + dead) // 3)
        manifests = [self._image(rng, repository_id, tips[0], "latest")]
        while len(manifests) < wanted:
            top = rng.choice(tips) if rng.random() < 0.7 else rng.choice(images)
            cap = 2 if subject is not None and subject.size_class == "small" \
                else rng.randint(1, MAX_OWN_DEPTH)
            while top.depth > cap:
                top = top.parent
            manifests.append(self._image(rng, repository_id, top, "m%d" % len(manifests)))
        indexes = []
        index_count = shape.indexes if shape else int(len(manifests) >= 2 and rng.random() < 0.05)
        for _ in range(index_count):
            count = 2 if not shape or shape.images <= 2 else rng.randint(2, 10)
            indexes.append(self._index(rng, repository_id, rng.sample(manifests, count)))
        referrer_count = shape.referrers if shape else int(rng.random() < 0.1)
        for place in range(referrer_count):
            self._referrer(rng, repository_id, manifests[0] if shape else rng.choice(manifests),
                           place)
        self._tags(rng, repository_id, manifests, indexes, alive, dead, window_s, subject)
        labels = subject.labels if subject is not None else 0
        if labels:
            self.g._labels(rng, repository_id, manifests[0][0], labels, "oci_manifest_label")
        elif label_rate:
            for manifest in manifests:
                if rng.random() < label_rate:
                    self.g._labels(rng, repository_id, manifest[0], rng.randint(1, 5),
                                   "oci_manifest_label")

    def _tags(self, rng: random.Random, repository_id: int, manifests: list, indexes: list,
              alive: int, dead: int, window_s: int, subject) -> None:
        now_ms = self.g.now * 1000
        day_ms = 24 * 3600 * 1000
        names = [self.subject_tag] + ["v%d.%d.%d" % (i // 100, (i // 10) % 10, i % 10) if i % 3
                                 else "build-%d" % i for i in range(1, alive)]
        rows = []
        ends: dict = {}
        for index in range(dead):
            beyond = rng.random() < 0.2 and not (subject is not None and index == 0)
            end = now_ms - (rng.randint(window_s * 1000 + 3_600_000, window_s * 1000 + 60 * day_ms)
                            if beyond else rng.randint(600_000, max(600_001,
                                                                    window_s * 1000 - 3_600_000)))
            if subject is not None and index == 0:
                name = self.dead_tag
            elif rng.random() < 0.5 and alive:
                name = rng.choice(names)
            else:
                name = "pr-%d" % index
            rows.append((name, rng.choice(manifests)[0], end - rng.randint(3_600_000, 30 * day_ms),
                         end, False))
            ends[name] = max(ends.get(name, 0), end)
        for index, name in enumerate(names):
            if index == 0:
                target = manifests[0][0]
            elif indexes and (index == len(names) - 1 or rng.random() < 0.05):
                target = rng.choice(indexes)[0]
            else:
                target = manifests[index % len(manifests)][0]
            start = max(now_ms - rng.randint(3_600_000, 365 * day_ms), ends.get(name, 0) + 1)
            end = now_ms + rng.randint(day_ms, 60 * day_ms) \
                if index and rng.random() < 0.01 else None
            hidden = subject is None and rng.random() < 0.005  # a push by digest, kept a day
            if hidden:
                end = now_ms + day_ms
            rows.append(("temp-%032x" % rng.getrandbits(128) if hidden else name, target, start,
                         end, hidden))
        for name, manifest_id, start, end, hidden in rows:
            self.g.emit("oci_tag", (self.g.ids.take("oci_tag"), repository_id, name,
                                    manifest_id, start, end, hidden, rng.random() < 0.01,
                                    False))


def _rfc3339(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
