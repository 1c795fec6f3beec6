"""The seeded shape of the benchmark database, as a stream of rows per table.

:class:`Generator` emits every row of a registry of a given scale (1.0: 10,000 namespaces,
100,000 repositories, 1,000,000 tag rows of which a tenth are dead, 1,000,000 legacy images in
chains up to 100 deep, 200,000 labels) through ``emit(table, row)``, in no particular table
order, with ids chosen here. The same seed gives the same rows. Two repositories are the
benchmark's subjects and have the same shape at every scale, so a method timed on them at 1%
and at 100% does the same work on a bigger database:

- ``bench-small/small``: 3 alive tags and 2 ended rows over about 8 images, ``latest``
  6 deep, 3 labels;
- ``bench-large/largest``: 2,000 alive tags and 1,000 ended rows (some beyond the
  time-machine window) over 2,000 images whose trunk is 100 deep, 50 labels on ``latest``.

The rest is skewed as registries are: most repositories hold a few tags, a few hold hundreds
(at 100%, four more repositories of the largest shape); base layers are shared across
repositories (same blob record, same V1 id); tags of one repository share images.

After each repository's rows, :class:`shape_oci.OCIRows` writes its OCI wing's rows (OCI
manifests on the same images' blobs, OCI tags, indexes, referrers, labels).
"""
import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable, Optional

from shape_oci import OCI_TABLES, OCIRows

# Columns written per table, in the order rows are emitted. The ids are explicit.
TABLES = {
    "namespace": ("id", "name", "enabled", "removed_tag_expiration_s"),
    "repository": ("id", "namespace_id", "name", "kind_id", "visibility_id", "state",
                   "description", "trust_enabled"),
    "image_storage": ("id", "uuid", "content_checksum", "image_size", "uncompressed_size",
                      "uploading", "cas_path"),
    "image_storage_placement": ("id", "storage_id", "location_id"),
    "image": ("id", "repository_id", "docker_image_id", "ancestors", "storage_id", "created",
              "comment", "command", "aggregate_size", "v1_json_metadata", "v1_checksum"),
    "repository_tag": ("id", "repository_id", "name", "image_id", "lifetime_start_ts",
                       "lifetime_end_ts", "hidden", "reversion"),
    "tag_manifest": ("id", "tag_id", "digest", "json_data", "media_type_id"),
    "label": ("id", "uuid", "key", "value", "media_type_id", "source_type_id"),
    "tag_manifest_label": ("id", "repository_id", "annotated_id", "label_id"),
    "blob_upload": ("id", "repository_id", "uuid", "byte_count", "uncompressed_byte_count",
                    "chunk_count", "sha_state", "location_id", "storage_metadata", "created"),
    "uploaded_blob": ("id", "repository_id", "blob_id", "uploaded_at", "expires_at"),
    **OCI_TABLES,
}

WINDOW_S = 14 * 24 * 3600  # the default time-machine window
DAY = 24 * 3600
# Every generated manifest carries signatures, so this is its stored media type.
SIGNED_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"
MAX_DEPTH = 100
REGULAR_TAG_CAP = 1000  # no regular repository outgrows the largest subject


@dataclass(frozen=True)
class Subject:
    """A repository the latency benchmark times, the same at every scale."""

    size_class: str
    namespace: str
    name: str
    alive_tags: int
    dead_tags: int
    images: int
    labels: int  # on the manifest of ``latest``
    uploads: int


SUBJECTS = (
    Subject("small", "bench-small", "small", alive_tags=3, dead_tags=2, images=8, labels=3,
            uploads=3),
    Subject("largest", "bench-large", "largest", alive_tags=2000, dead_tags=1000,
            images=2000, labels=50, uploads=3),
)
LARGEST = SUBJECTS[1]
SUBJECT_TAG = "latest"
DEAD_TAG = "old-build"  # an ended row whose name has no alive row, in each subject


@dataclass(frozen=True)
class Totals:
    """How many rows of each kind a scale asks for."""

    namespaces: int
    repositories: int
    tags: int
    images: int
    labels: int
    uploads: int
    links: int
    base_stacks: int
    large_repositories: int


def totals(scale: float) -> Totals:
    """The row counts of ``scale`` (1.0 is the full size of the issue)."""
    def scaled(count: int, minimum: int = 1) -> int:
        return max(minimum, int(round(count * scale)))
    return Totals(namespaces=scaled(10_000, 2), repositories=scaled(100_000, 2),
                  tags=scaled(1_000_000), images=scaled(1_000_000), labels=scaled(200_000),
                  uploads=scaled(100), links=scaled(1_000), base_stacks=scaled(2_000, 20),
                  large_repositories=max(1, int(round(5 * scale))))


class _Ids:
    def __init__(self) -> None:
        self.next = {table: 1 for table in TABLES}

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


class _Image:
    __slots__ = ("id", "depth", "ancestors", "storage_id", "digest", "docker_id", "escaped",
                 "parent", "aggregate")

    def __init__(self, row_id, depth, ancestors, storage_id, digest, docker_id, escaped,
                 parent, aggregate):
        self.id, self.depth, self.ancestors = row_id, depth, ancestors
        self.storage_id, self.digest, self.docker_id = storage_id, digest, docker_id
        self.escaped, self.parent, self.aggregate = escaped, parent, aggregate


LABEL_KEYS = ("maintainer", "org.opencontainers.image.version",
              "org.opencontainers.image.revision", "org.opencontainers.image.source",
              "com.example.team", "com.example.build-url", "quay.expires-after-note",
              "io.k8s.description", "vendor", "release")


class Generator:
    """Emits every row of one scale; ``lookups`` maps lookup-table names to ids."""

    def __init__(self, scale: float, seed: int, now: int, lookups: dict,
                 emit: Callable[[str, tuple], None], subjects: tuple = SUBJECTS) -> None:
        self.scale, self.seed, self.now = scale, seed, now
        self.subjects = subjects
        self.totals = totals(scale)
        self.lookups = lookups
        self.emit = emit
        self.ids = _Ids()
        self.labels_left = self.totals.labels
        self.recent_manifests: list = []  # (manifest id, repository id) for the label top-up
        self.oci = OCIRows(self, SUBJECT_TAG, DEAD_TAG)

    # --- shared pieces ------------------------------------------------------------------

    def _storage(self, rng: random.Random, size: int) -> tuple:
        storage_id = self.ids.take("image_storage")
        digest = "sha256:%064x" % rng.getrandbits(256)
        self.emit("image_storage", (storage_id, "%032x" % rng.getrandbits(128), digest, size,
                                    size * 3, False, True))
        self.emit("image_storage_placement", (self.ids.take("image_storage_placement"),
                                              storage_id, self.lookups["local"]))
        return storage_id, digest

    def _base_stacks(self) -> list:
        """Shared base images: per stack, its layers' (storage id, digest, size, V1 id)."""
        rng = random.Random(self.seed * 7 + 1)
        stacks = []
        for index in range(self.totals.base_stacks):
            layers = []
            for depth in range(rng.randint(1, 4)):
                size = int(rng.lognormvariate(16, 1.2))
                storage_id, digest = self._storage(rng, size)
                docker_id = hashlib.sha256(b"base %d %d" % (index, depth)).hexdigest()
                layers.append((storage_id, digest, size, docker_id))
            stacks.append(layers)
        return stacks

    def _v1(self, docker_id: str, parent: Optional[_Image], created: str, step: str,
            size: int) -> str:
        parent_part = ',"parent":"%s"' % parent.docker_id if parent is not None else ""
        return ('{"id":"%s"%s,"created":"%s","container_config":{"Cmd":["/bin/sh -c #(nop) '
                '%s"]},"Size":%d}' % (docker_id, parent_part, created, step, size))

    def _image(self, rng: random.Random, repository_id: int, parent: Optional[_Image],
               storage_id: int, digest: str, size: int, docker_id: str) -> _Image:
        image_id = self.ids.take("image")
        depth = parent.depth + 1 if parent is not None else 1
        ancestors = "%s%d/" % (parent.ancestors, parent.id) if parent is not None else "/"
        created_ts = self.now - rng.randint(DAY, 400 * DAY)
        created = datetime.fromtimestamp(created_ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
        step = "RUN build step %d" % depth
        v1 = self._v1(docker_id, parent, created.replace(" ", "T") + "Z", step, size)
        aggregate = size + (parent.aggregate if parent is not None else 0)
        self.emit("image", (image_id, repository_id, docker_id, ancestors, storage_id, created,
                            None, json.dumps(["/bin/sh", "-c", "#(nop) " + step]), aggregate,
                            v1, None))
        return _Image(image_id, depth, ancestors, storage_id, digest, docker_id, json.dumps(v1),
                      parent, aggregate)

    # --- one repository -----------------------------------------------------------------

    def _chains(self, rng: random.Random, repository_id: int, target: int, large: bool,
                stacks: list, first_depth: int = 0) -> tuple:
        """The repository's images: chains on shared bases, branching; ``(images, tips)``.

        With ``first_depth`` the first chain reaches that depth (the largest subject's
        100-deep trunk).
        """
        images: list = []
        tips: list = []
        base_images: dict = {}
        while len(images) < target:
            if first_depth and not images:
                parent, own = None, first_depth  # a subject's chain under ``latest``
            elif images and rng.random() < (0.9 if large else 0.4):
                parent = rng.choice(images)
                own = rng.randint(1, 10 if large else 4)
            else:
                parent = None
                own = min(MAX_DEPTH, max(1, int(rng.lognormvariate(1.2, 0.7))))
            if parent is None:
                stack_index = min(len(stacks) - 1, int(rng.paretovariate(1.0)) - 1)
                for layer_index, (storage_id, digest, size, docker_id) in enumerate(
                        stacks[stack_index]):
                    key = (stack_index, layer_index)
                    if key not in base_images:
                        base_images[key] = self._image(rng, repository_id, parent, storage_id,
                                                       digest, size, docker_id)
                        images.append(base_images[key])
                    parent = base_images[key]
            own = min(own, MAX_DEPTH - parent.depth)
            for _ in range(own):
                size = int(rng.lognormvariate(13, 2))
                storage_id, digest = self._storage(rng, size)
                parent = self._image(rng, repository_id, parent, storage_id, digest, size,
                                     "%064x" % rng.getrandbits(256))
                images.append(parent)
            tips.append(parent)
        return images, tips

    def _manifest(self, namespace: str, repository: str, tag_name: str, image: _Image,
                  rng: random.Random) -> str:
        layers, history = [], []
        node: Optional[_Image] = image
        while node is not None:
            layers.append('      {\n         "blobSum": "%s"\n      }' % node.digest)
            history.append('      {\n         "v1Compatibility": %s\n      }' % node.escaped)
            node = node.parent
        return ('{\n   "schemaVersion": 1,\n   "name": "%s/%s",\n   "tag": "%s",\n'
                '   "architecture": "amd64",\n   "fsLayers": [\n%s\n   ],\n'
                '   "history": [\n%s\n   ],\n   "signatures": [\n      {\n'
                '         "header": {\n            "jwk": {\n               "crv": "P-256",\n'
                '               "kid": "%s",\n               "kty": "EC",\n'
                '               "x": "%s",\n               "y": "%s"\n            },\n'
                '            "alg": "ES256"\n         },\n         "signature": "%s",\n'
                '         "protected": "%s"\n      }\n   ]\n}'
                % (namespace, repository, tag_name, ",\n".join(layers), ",\n".join(history),
                   "%048X" % rng.getrandbits(192), "%043x" % rng.getrandbits(172),
                   "%043x" % rng.getrandbits(172), "%086x" % rng.getrandbits(344),
                   "%0120x" % rng.getrandbits(480)))

    def _labels(self, rng: random.Random, repository_id: int, manifest_id: int,
                count: int, link_table: str = "tag_manifest_label") -> None:
        """``count`` labels on the manifest; only pre-OCI ones count against the total."""
        for index in range(count):
            roll = rng.random()
            source = "manifest" if roll < 0.7 else ("api" if roll < 0.95 else "internal")
            key = LABEL_KEYS[index % len(LABEL_KEYS)]
            if index >= len(LABEL_KEYS):
                key = "%s.%d" % (key, index // len(LABEL_KEYS))
            if rng.random() < 0.2:
                value, media = json.dumps({"index": index, "build": rng.randint(1, 99999)}), \
                    "application/json"
            else:
                value, media = "value-%d-%x" % (index, rng.getrandbits(32)), "text/plain"
            label_id = self.ids.take("label")
            self.emit("label", (label_id, "%s" % _uuid(rng), key, value,
                                self.lookups["media:" + media], self.lookups["source:" + source]))
            self.emit(link_table, (self.ids.take(link_table), repository_id, manifest_id,
                                   label_id))
        if link_table == "tag_manifest_label":
            self.labels_left -= count

    def _tags(self, rng: random.Random, repository_id: int, namespace: str, repository: str,
              alive: int, dead: int, images: list, tips: list, window: int,
              subject_labels: Optional[int], label_rate: float) -> None:
        """Alive names (``latest`` first), their histories, deleted names; manifests, labels."""
        names = [SUBJECT_TAG] + ["v%d.%d.%d" % (i // 100, (i // 10) % 10, i % 10) if i % 3
                                 else "build-%d" % i for i in range(1, alive)]
        rows = []  # [name, image, start, end, hidden, reversion]
        ends_by_name: dict = {}
        for index in range(dead):
            beyond = rng.random() < 0.2 and not (subject_labels is not None and index == 0)
            end = self.now - (rng.randint(window + 3600, window + 60 * DAY) if beyond
                              else rng.randint(600, max(601, window - 3600)))
            if subject_labels is not None and index == 0:
                name = DEAD_TAG
            elif rng.random() < 0.5 and alive:
                name = rng.choice(names)
            else:
                name = "pr-%d" % index
            rows.append([name, rng.choice(images), end - rng.randint(3600, 30 * DAY), end,
                         False, False])
            ends_by_name[name] = max(ends_by_name.get(name, 0), end)
        for index, name in enumerate(names):
            image = tips[-1 - index % len(tips)] if rng.random() < 0.8 or index == 0 \
                else rng.choice(images)
            if index == 0:
                image = tips[0]  # latest: the first chain (the 100-deep trunk when large)
            start = max(self.now - rng.randint(3600, 365 * DAY), ends_by_name.get(name, 0))
            end = self.now + rng.randint(DAY, 60 * DAY) if rng.random() < 0.01 and index else None
            hidden = subject_labels is None and rng.random() < 0.005
            rows.append([name if not hidden else "tmp-%x" % rng.getrandbits(40), image, start,
                         end, hidden, rng.random() < 0.01])
        for name, image, start, end, hidden, reversion in rows:
            tag_id = self.ids.take("repository_tag")
            self.emit("repository_tag", (tag_id, repository_id, name, image.id, start, end,
                                         hidden, reversion))
            is_dead = end is not None and end <= self.now
            if is_dead and name != DEAD_TAG and rng.random() < 0.1:
                continue  # an ended row that never had a manifest stored
            manifest = self._manifest(namespace, repository, name, image, rng)
            manifest_id = self.ids.take("tag_manifest")
            digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
            self.emit("tag_manifest", (manifest_id, tag_id, digest, manifest,
                                       self.lookups["media:" + SIGNED_SCHEMA1]))
            if subject_labels is not None:
                count = subject_labels if name == SUBJECT_TAG and end is None else 0
            elif self.labels_left > 0 and rng.random() < label_rate:
                count = min(self.labels_left, rng.randint(1, 5))
            else:
                count = 0
            if count:
                self._labels(rng, repository_id, manifest_id, count)
            elif subject_labels is None and not is_dead and len(self.recent_manifests) < 50_000:
                self.recent_manifests.append((manifest_id, repository_id))

    def _uploads(self, rng: random.Random, repository_id: int, count: int,
                 links: list) -> None:
        for _ in range(count):
            self.emit("blob_upload", (self.ids.take("blob_upload"), repository_id,
                                      str(_uuid(rng)), rng.randint(0, 1 << 26), None,
                                      rng.randint(0, 8), None, self.lookups["local"],
                                      '{"upload_id": "%x"}' % rng.getrandbits(64),
                                      self.now - rng.randint(0, 3 * DAY)))
        for image in links:
            self.emit("uploaded_blob", (self.ids.take("uploaded_blob"), repository_id,
                                        image.storage_id, self.now - 3600,
                                        self.now + rng.choice((-1, 1)) * rng.randint(60, DAY)))

    def _repository(self, namespace_id: int, namespace: str, name: str, rng: random.Random,
                    public: bool, state: int = 0, kind: str = "image") -> int:
        repository_id = self.ids.take("repository")
        self.emit("repository", (repository_id, namespace_id, name, self.lookups["kind:" + kind],
                                 self.lookups["public" if public else "private"], state,
                                 "The %s repository" % name if rng.random() < 0.3 else None,
                                 False))
        return repository_id

    def _namespace(self, name: str, window: int = WINDOW_S) -> int:
        namespace_id = self.ids.take("namespace")
        self.emit("namespace", (namespace_id, name, True, window))
        return namespace_id

    # --- everything ---------------------------------------------------------------------

    def run(self) -> dict:
        """Emit every row; return the ``{table: rows}`` counts."""
        t = self.totals
        stacks = self._base_stacks()
        subject_tags = 0
        for subject in self.subjects:  # first, with their own seed: the same rows at any scale
            rng = random.Random("subject %s" % subject.size_class)
            namespace_id = self._namespace(subject.namespace)
            repository_id = self._repository(namespace_id, subject.namespace, subject.name, rng,
                                             public=False)
            images, tips = self._chains(rng, repository_id, subject.images,
                                        subject is LARGEST, stacks[:20],
                                        MAX_DEPTH if subject is LARGEST else 6)
            self._tags(rng, repository_id, subject.namespace, subject.name, subject.alive_tags,
                       subject.dead_tags, images, tips, WINDOW_S, subject.labels, 0.0)
            self._uploads(rng, repository_id, subject.uploads, images[-2:])
            self.oci.repository(repository_id, images, tips, subject.alive_tags,
                                subject.dead_tags, WINDOW_S, subject)
            subject_tags += subject.alive_tags + subject.dead_tags

        rng = random.Random(self.seed)
        namespaces = [(self._namespace("org%05d" % index,
                                       window=WINDOW_S if rng.random() < 0.9 else 7 * DAY),
                       "org%05d" % index)
                      for index in range(t.namespaces - len(self.subjects))]
        regular = t.repositories - len(self.subjects)
        large = t.large_repositories - 1
        # Below 1% the subjects alone outgrow the total: every other repository gets one tag.
        sizes = _skewed_sizes(rng, regular - large,
                              max(regular - large, t.tags - subject_tags
                                  - large * (LARGEST.alive_tags + LARGEST.dead_tags)))
        sizes = [LARGEST.alive_tags + LARGEST.dead_tags] * large + sizes
        # A chain holds its shared base layers too, so a repository ends up with about 1.3
        # images per image it asked for: ask for less, to land just above the total.
        image_ratio = 0.8 * t.images / float(t.tags)
        label_rate = t.labels / (0.9 * 3.0 * max(1, t.tags - subject_tags))
        uploads_left, links_left = t.uploads, t.links
        for index, tag_rows in enumerate(sizes):
            namespace_id, namespace = namespaces[index % len(namespaces)]
            name = "repo%06d" % index
            roll = rng.random()
            state = 3 if roll < 0.001 else (1 if roll < 0.006 else (2 if roll < 0.01 else 0))
            repository_id = self._repository(namespace_id, namespace, name, rng,
                                             public=rng.random() < 0.3, state=state,
                                             kind="application" if roll > 0.98 else "image")
            is_large = index < large
            dead = LARGEST.dead_tags if is_large else _binomial(rng, tag_rows, 0.1)
            images, tips = self._chains(rng, repository_id,
                                        max(1, int(round(tag_rows * image_ratio))), is_large,
                                        stacks, MAX_DEPTH if is_large else 0)
            window = WINDOW_S
            self._tags(rng, repository_id, namespace, name, tag_rows - dead, dead, images, tips,
                       window, None, label_rate)
            share = len(sizes) - index
            uploads = uploads_left // share + (1 if rng.random() < (uploads_left % share) / share
                                              else 0)
            links = links_left // share + (1 if rng.random() < (links_left % share) / share
                                          else 0)
            uploads_left, links_left = uploads_left - uploads, links_left - links
            self._uploads(rng, repository_id, uploads, [rng.choice(images) for _ in range(links)])
            self.oci.repository(repository_id, images, tips, tag_rows - dead, dead, window)
        while self.labels_left > 0 and self.recent_manifests:
            manifest_id, repository_id = self.recent_manifests.pop()
            self._labels(rng, repository_id, manifest_id, min(self.labels_left, 2))
        return {table: self.ids.next[table] - 1 for table in TABLES}


def _uuid(rng: random.Random) -> str:
    value = "%032x" % rng.getrandbits(128)
    return "%s-%s-4%s-a%s-%s" % (value[:8], value[8:12], value[13:16], value[17:20], value[20:])


def _binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 1:
        return 0
    mean = n * p
    return max(0, min(n - 1, int(round(rng.gauss(mean, (mean * (1 - p)) ** 0.5)))))


def _skewed_sizes(rng: random.Random, count: int, total: int) -> list:
    """``count`` positive sizes summing to ``total``: mostly small, a long tail (Pareto)."""
    raw = [min(300.0, rng.paretovariate(1.2)) for _ in range(count)]
    factor = total / sum(raw)
    sizes = [min(REGULAR_TAG_CAP, max(1, int(value * factor))) for value in raw]
    missing = total - sum(sizes)
    while missing != 0:
        index = rng.randrange(count)
        if missing > 0 and sizes[index] < REGULAR_TAG_CAP:
            sizes[index] += 1
            missing -= 1
        elif missing < 0 and sizes[index] > 1:
            sizes[index] -= 1
            missing += 1
    return sizes
