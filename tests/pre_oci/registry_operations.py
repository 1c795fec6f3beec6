"""What the state machine test draws: the layer pool, the clock steps and its operations.

Each operation is a named tuple holding the arguments of the RegistryMachine method of the same
name (``EndTags`` for ``end_tags``), so a failing run prints readable steps such as
``state.step(operation=Push(repo=0, name='latest', layers=[1, 0], ...))``.
"""
from typing import NamedTuple, Optional

from hypothesis import strategies as st

from . import sha256_digest
from .registry_state import EXPIRES_AFTER_KEY

START = 1_700_000_000
WINDOW = 3600  # the namespace's time machine
GRACE = 2 * WINDOW  # the grace period for files, when a collection uses one
HOUR = 3600
POOL = [b"layer %d of the shared pool" % index for index in range(4)]
DIGESTS = [sha256_digest(data) for data in POOL]
ABANDONED = [b"an upload that never committed %d" % index for index in range(2)]
SIZES = {sha256_digest(data): len(data) for data in POOL + ABANDONED}
REPOS = st.sampled_from([0, 1])
NAMES = st.sampled_from(["latest", "v1"])
BLOBS = st.integers(0, len(POOL) - 1)
PUSH_LABELS = st.sampled_from([{}, {"com.example.pushed": "yes"}, {EXPIRES_AFTER_KEY: "2h"},
                               {EXPIRES_AFTER_KEY: "soon"}, {"Built_By Hand": "x"}])
LABEL_KEYS = st.sampled_from(["com.example.a", EXPIRES_AFTER_KEY, "com.example.b", "Bad_Key"])
LABEL_VALUES = st.sampled_from(["x", "30m", "2h", "1d", "soon", '{"a": [1]}'])
LABEL_SOURCES = st.sampled_from(["api", "internal", "api", "manifest"])
# Before a collection: past the window, nothing, or just past a 60-second link.
ADVANCES = st.sampled_from([WINDOW + 1, 0, 61])
GRACES = st.sampled_from([0, GRACE])
PICK = st.integers(0, 255)  # an index into a list the state machine keeps, modulo its length
CLOCK_STEPS = st.sampled_from([1, 30, 600, 1799, 1800, 3599, 3600, 3601, 7200, 86400])


class Push(NamedTuple):
    repo: int
    name: str
    layers: list
    content_ids: bool
    labels: dict
    upload_missing: bool


class Blobs(NamedTuple):
    action: str
    repo: int
    blob: int
    expiration: int


class Retag(NamedTuple):
    action: str
    repo: int
    name: str
    pick: int


class EndTags(NamedTuple):
    action: str
    repo: int
    name: str
    pick: int
    alive: bool
    delta: Optional[int]


class Labels(NamedTuple):
    action: str
    pick: int
    key: str
    value: str
    source: str
    mutable: bool
    elsewhere: Optional[int]


class TimePasses(NamedTuple):
    scope: object
    seconds: int
    advance: int
    grace: int
    batch_size: int
    dry_run: bool


# What one step does: the arguments of the RegistryMachine method of the same name.
OPERATIONS = st.one_of(
    st.builds(Push, repo=REPOS, name=NAMES, layers=st.lists(BLOBS, min_size=1, max_size=3),
              content_ids=st.booleans(), labels=PUSH_LABELS,
              upload_missing=st.sampled_from([True, True, False])),
    st.builds(Blobs, action=st.sampled_from(["upload", "upload", "abandon", "mount", "release"]),
              repo=REPOS, blob=BLOBS, expiration=st.sampled_from([60, HOUR, 86400, 0])),
    st.builds(Retag, action=st.sampled_from(["manifest", "image", "restore"]), repo=REPOS,
              name=NAMES, pick=PICK),
    st.builds(EndTags, action=st.sampled_from(["delete", "delete manifest", "expire tag",
                                                "expire manifest"]),
              repo=REPOS, name=NAMES, pick=PICK, alive=st.booleans(),
              delta=st.sampled_from([None, -30, 0, 1, 60, 1800, 7200])),
    st.builds(Labels, action=st.sampled_from(["add", "delete"]), pick=PICK, key=LABEL_KEYS,
              value=LABEL_VALUES, source=LABEL_SOURCES,
              mutable=st.sampled_from([True, True, False]),
              elsewhere=st.sampled_from([None, None, 0, 1, 2])),
    st.builds(TimePasses, scope=st.sampled_from(["clock", 0, 1, "worker"]), seconds=CLOCK_STEPS,
              advance=ADVANCES, grace=GRACES, batch_size=st.sampled_from([1, 2, 100]),
              dry_run=st.booleans()),
)
