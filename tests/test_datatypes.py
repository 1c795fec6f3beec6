"""registry_model.datatypes: immutable values, free of peewee, built by for_* classmethods."""
import ast
import collections.abc
import copy
import datetime
import json
import operator
import pickle
import subprocess
import sys
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import peewee
import pytest

from registry_model import datatypes
from registry_model.database import RepositoryState
from registry_model.datatypes import (
    Label,
    LegacyImage,
    Manifest,
    Namespace,
    ParentChain,
    Referrer,
    RepositoryReference,
    Tag,
    schema1_media_type,
)
from registry_model.testing.factories import (
    ImageFactory,
    NamespaceFactory,
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)
from registry_model.testing.queries import count_statements

UNSIGNED = "application/vnd.docker.distribution.manifest.v1+json"
SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DATATYPES = [RepositoryReference, Tag, Manifest, LegacyImage, Label, Namespace, Referrer]
DATATYPES_SOURCE = Path(datatypes.__file__)


def _example(datatype):
    return datatype(*range(len(datatype._fields)))


@pytest.mark.parametrize("datatype", DATATYPES, ids=lambda d: d.__name__)
def test_datatypes_are_namedtuples_without_an_instance_dict(datatype):
    value = _example(datatype)
    assert isinstance(value, tuple)
    assert value._fields == datatype._fields
    assert not hasattr(value, "__dict__")


@pytest.mark.parametrize("datatype", DATATYPES, ids=lambda d: d.__name__)
def test_datatypes_cannot_be_changed(datatype):
    value = _example(datatype)
    field = datatype._fields[0]
    with pytest.raises(AttributeError):
        setattr(value, field, "changed")
    with pytest.raises(AttributeError):
        value.extra = 1
    with pytest.raises(TypeError):
        value[0] = "changed"
    assert getattr(value, field) == 0


@pytest.mark.parametrize("datatype, fields", [
    (RepositoryReference, ["id", "namespace_name", "name", "kind", "is_public", "state"]),
    (Tag, ["id", "name", "repository", "docker_image_id", "reversion", "lifetime_start_ts",
           "lifetime_end_ts"]),
    (Manifest, ["id", "digest", "media_type", "manifest_bytes"]),
    (LegacyImage, ["id", "docker_image_id", "created", "comment", "command", "image_size",
                   "aggregate_size", "uploading", "v1_metadata_string", "blob_digest",
                   "parents", "tags"]),
    (Label, ["id", "key", "value", "uuid", "source_type_name", "media_type_name"]),
    (Namespace, ["id", "name", "enabled", "removed_tag_expiration_s"]),
    (Referrer, ["digest", "media_type", "size", "artifact_type", "annotations"]),
], ids=[datatype.__name__ for datatype in DATATYPES])
def test_datatypes_provide_the_fields_of_the_design(datatype, fields):
    assert datatype._fields[:len(fields)] == tuple(fields)


def _imports(source) -> set:
    imported = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in %s" % source.name
            imported.add(node.module)
    return imported


STDLIB_ONLY_NEIGHBOURS = ("media_types", "parent_chain", "referrer_annotations")


def test_the_datatypes_module_imports_only_the_standard_library():
    # registry_model.media_types, parent_chain and referrer_annotations are the project
    # modules allowed, and they import only the standard library themselves.
    imported = _imports(DATATYPES_SOURCE)
    assert "collections" in imported
    neighbours = {"registry_model." + name for name in STDLIB_ONLY_NEIGHBOURS}
    assert neighbours <= imported
    packages = {name.split(".")[0] for name in imported - neighbours}
    assert packages <= set(sys.stdlib_module_names)  # top-level names: collections.abc too
    for name in STDLIB_ONLY_NEIGHBOURS:
        used = {module.split(".")[0]
                for module in _imports(DATATYPES_SOURCE.with_name(name + ".py"))}
        assert used and used <= set(sys.stdlib_module_names), name


def test_the_datatypes_module_loads_where_peewee_cannot_be_imported():
    script = (
        "import importlib.util, sys, types\n"
        "for name in ('peewee', 'playhouse'):\n"
        "    sys.modules[name] = None  # any import of them now fails\n"
        "def load(name, path):\n"
        "    spec = importlib.util.spec_from_file_location(name, path)\n"
        "    module = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(module)\n"
        "    return module\n"
        "# The package itself (which loads the whole model) stays out: only the\n"
        "# stdlib-only neighbours are put in its place.\n"
        "sys.modules['registry_model'] = types.ModuleType('registry_model')\n"
        "for path in sys.argv[2:]:\n"
        "    name = 'registry_model.' + path.rsplit('/', 1)[-1][:-len('.py')]\n"
        "    sys.modules[name] = load(name, path)\n"
        "spec = importlib.util.spec_from_file_location('isolated_datatypes', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('peewee', 'playhouse')"
        " and sys.modules[n] is not None))\n"
        "print(module.Manifest.__name__)\n")
    result = subprocess.run([sys.executable, "-c", script, str(DATATYPES_SOURCE),
                             *(str(DATATYPES_SOURCE.with_name(name + ".py"))
                               for name in STDLIB_ONLY_NEIGHBOURS)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "Manifest"]


def test_repository_reference_for_repo_obj_takes_the_row_and_its_names():
    row = SimpleNamespace(id=3, name="simple", state=RepositoryState.MIRROR)
    ref = RepositoryReference.for_repo_obj(row, "devtable", "image", True)
    assert ref == RepositoryReference(3, "devtable", "simple", "image", True,
                                      RepositoryState.MIRROR)
    assert ref.full_name == "devtable/simple"


def test_repository_reference_for_id_leaves_unknown_fields_none():
    assert RepositoryReference.for_id(9) == RepositoryReference(9, None, None, None, None, None)
    assert RepositoryReference.for_id(9, namespace_name="a", name="b").full_name == "a/b"


def test_tag_for_repository_tag_copies_the_row():
    ref = RepositoryReference.for_id(1, "devtable", "simple")
    row = SimpleNamespace(id=5, name="latest", reversion=True, lifetime_start_ts=10,
                          lifetime_end_ts=20, image_id=7, hidden=False)
    tag = Tag.for_repository_tag(row, "ab" * 32, ref)
    assert (tag.id, tag.name, tag.repository, tag.docker_image_id, tag.reversion,
            tag.lifetime_start_ts, tag.lifetime_end_ts) == (5, "latest", ref, "ab" * 32, True,
                                                           10, 20)


def test_manifest_for_tag_manifest_keeps_the_bytes_and_digest():
    text = json.dumps({"schemaVersion": 1, "name": "caf\u00e9"}, ensure_ascii=False)
    manifest = Manifest.for_tag_manifest(SimpleNamespace(id=4, digest="sha256:" + "0" * 64,
                                                         json_data=text, tag_id=8))
    assert (manifest.id, manifest.digest) == (4, "sha256:" + "0" * 64)
    assert manifest.manifest_bytes == text.encode("utf-8")
    assert isinstance(manifest.manifest_bytes, bytes)


@pytest.mark.parametrize("document, media_type", [
    ({"schemaVersion": 1, "fsLayers": []}, UNSIGNED),
    ({"schemaVersion": 1, "signatures": []}, UNSIGNED),
    ({"schemaVersion": 1, "signatures": [{"header": {"alg": "ES256"}, "signature": "x",
                                          "protected": "y"}]}, SIGNED),
])
def test_manifest_media_type_tells_signed_from_unsigned_schema1(document, media_type):
    data = json.dumps(document)
    assert schema1_media_type(data.encode("utf-8")) == media_type
    manifest = Manifest.for_tag_manifest(SimpleNamespace(id=1, digest="d", json_data=data,
                                                         tag_id=1))
    assert manifest.media_type == media_type


def test_legacy_image_for_image_reads_the_blob_columns_of_the_flat_row():
    created = datetime.datetime(2020, 1, 2)
    row = SimpleNamespace(id=2, docker_image_id="ab" * 32, created=created, comment="c",
                          command="cmd", aggregate_size=30, v1_json_metadata="{}",
                          image_size=10, uploading=False, content_checksum="sha256:x")
    parent = LegacyImage.for_image(row)
    image = LegacyImage.for_image(row, parents=(parent,), tags=iter(["a", "b"]))
    assert (image.id, image.docker_image_id, image.created, image.comment, image.command,
            image.image_size, image.aggregate_size, image.uploading, image.v1_metadata_string,
            image.blob_digest) == (2, "ab" * 32, created, "c", "cmd", 10, 30, False, "{}",
                                   "sha256:x")
    assert image.parents == (parent,)
    assert image.tags == ("a", "b")
    assert (parent.parents, parent.tags) == (None, None)


def test_label_for_label_takes_the_lookup_names():
    row = SimpleNamespace(id=1, key="k", value="v", uuid="u")
    assert Label.for_label(row, "api", "text/plain") == Label(1, "k", "v", "u", "api",
                                                             "text/plain")


def _contains_row(value) -> bool:
    if isinstance(value, peewee.Model):
        return True
    if isinstance(value, (tuple, ParentChain)):
        return any(_contains_row(item) for item in value)
    return False


def test_interface_results_hold_values_only_and_read_without_queries(registry_model):
    repo = RepositoryFactory(namespace__name="devtable", name="simple")
    base = ImageFactory(repository=repo)
    top = ImageFactory(parent=base)
    tag_manifest = TagManifestFactory(tag=RepositoryTagFactory(repository=repo, name="latest",
                                                               image=top))
    ref = registry_model.lookup_repository("devtable", "simple")
    tag = registry_model.find_matching_tag(ref, ["latest"])
    manifest = registry_model.get_manifest_for_tag(tag)
    label = registry_model.create_manifest_label(manifest, "k", "v", "api")
    images = registry_model.get_legacy_images(ref)
    single = registry_model.get_legacy_image(ref, top.docker_image_id, include_parents=True)
    assert manifest.digest == tag_manifest.digest
    values = [ref, tag, manifest, label, single] + images
    with count_statements() as counted:
        for value in values:
            assert not _contains_row(value), value
            repr(value)
            for field in value._fields:
                getattr(value, field)
    assert counted.count == 0


def test_namespace_for_namespace_row_takes_the_loaded_row_without_a_query(initialized_db):
    row = NamespaceFactory(name="acme", enabled=False, removed_tag_expiration_s=5400)
    with count_statements() as counted:
        built = Namespace.for_namespace_row(row)
    assert counted.count == 0
    assert built == Namespace(row.id, "acme", False, 5400)
    assert type(built.enabled) is bool and type(built.removed_tag_expiration_s) is int


# --- ParentChain -------------------------------------------------------------------------

def _image(image_id: int, parents=()) -> LegacyImage:
    return LegacyImage(image_id, "%064x" % image_id, None, None, None, 1, 1, False, "{}",
                       "sha256:%d" % image_id, parents, ())


def _chain_of_images(depth: int, odd_id_at=None) -> list:
    """Images root first, each with its parents as the model builds them (shared links)."""
    images: list = []
    for position in range(depth):
        parent = images[-1] if images else None
        parents = ParentChain(parent, parent.parents) if parent is not None else ()
        images.append(_image(-1 if position == odd_id_at else position, parents))
    return images


def test_a_parent_chain_reads_like_the_tuple_of_its_items():
    chain = ParentChain("a", ("b", "c", "d"))
    assert isinstance(chain, collections.abc.Sequence)
    assert len(chain) == 4 and bool(chain)
    assert list(chain) == ["a", "b", "c", "d"]
    assert list(reversed(chain)) == ["d", "c", "b", "a"]
    assert (chain[0], chain[3], chain[-1], chain[-4]) == ("a", "d", "d", "a")
    assert chain[True] == "b"  # any integer index, as tuples take
    assert chain[1:3] == ("b", "c") and chain[::-2] == ("d", "b") and chain[5:] == ()
    assert isinstance(chain[1:], tuple)
    for index in (4, -5, 100):
        with pytest.raises(IndexError):
            chain[index]
    with pytest.raises(TypeError):
        chain["0"]
    assert "c" in chain and "z" not in chain
    assert (chain.index("c"), chain.count("a")) == (2, 1)
    assert ParentChain("only") == ("only",) and len(ParentChain("only")) == 1
    assert repr(chain) == "ParentChain(('a', 'b', 'c', 'd'))"


def test_a_parent_chain_equals_and_hashes_as_its_tuple():
    chain = ParentChain(1, (2, 3))
    assert chain == (1, 2, 3) and (1, 2, 3) == chain
    assert chain == ParentChain(1, ParentChain(2, (3,)))
    assert not chain != (1, 2, 3)
    for other in [(1, 2), (1, 2, 3, 4), (1, 2, 4), (3, 2, 1), ParentChain(1, (2,)),
                  ParentChain(0, (2, 3)), ParentChain(1, (2, 4))]:
        assert chain != other and other != chain
    assert chain != [1, 2, 3]  # tuple-like: a list is not equal to a tuple either
    assert hash(chain) == hash((1, 2, 3))
    assert {(1, 2, 3): "found"}[chain] == "found"
    assert len({chain, (1, 2, 3), ParentChain(1, (2, 3))}) == 1
    assert chain < (1, 2, 4) and chain <= (1, 2, 3) and chain > (1, 2) and chain >= (1, 2, 3)
    assert sorted([ParentChain(2), (1, 5), ParentChain(1, (3,))]) == [(1, 3), (1, 5), (2,)]
    with pytest.raises(TypeError):
        operator.lt(chain, [1, 2, 4])


def test_a_parent_chain_joins_tuples_into_tuples():
    chain = ParentChain(2, (3,))
    assert (1,) + chain == (1, 2, 3) and isinstance((1,) + chain, tuple)
    assert chain + (4,) == (2, 3, 4) and isinstance(chain + (4,), tuple)
    assert chain + chain == (2, 3, 2, 3)
    with pytest.raises(TypeError):
        chain + [4]
    with pytest.raises(TypeError):
        [1] + chain


def test_a_parent_chain_cannot_be_changed():
    chain = ParentChain(1, (2, 3))
    with pytest.raises(TypeError):
        chain[0] = 5
    with pytest.raises(TypeError):
        del chain[0]
    with pytest.raises(AttributeError):
        chain.extra = 1
    for mutator in ("append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"):
        assert not hasattr(chain, mutator)
    assert not hasattr(chain, "__dict__")
    assert chain == (1, 2, 3)


def test_a_link_in_front_of_a_chain_shares_it_without_reading_it(monkeypatch):
    rest = ParentChain(2, (3, 4))

    def fail(*args):
        raise AssertionError("the rest of the chain was read")

    for name in ("__iter__", "__len__", "__getitem__", "__eq__", "__hash__"):
        monkeypatch.setattr(ParentChain, name, fail)
    longer = ParentChain(1, rest)  # O(1): one link, whatever the depth
    monkeypatch.undo()
    assert longer == (1, 2, 3, 4) and len(longer) == 4
    assert rest == (2, 3, 4)


def test_deep_image_chains_compare_and_hash_in_linear_time():
    # Each image's parents hold its parent, whose parents hold the next: compared or
    # hashed naively, link by link, this takes time exponential in the depth (2**100).
    first, second = _chain_of_images(100), _chain_of_images(100)
    assert first[-1] == second[-1] and first[-1].parents == second[-1].parents
    assert hash(first[-1]) == hash(second[-1])
    assert first[-1].parents == tuple(second[-1].parents)
    for odd_id_at in (0, 1, 50, 98):
        different = _chain_of_images(100, odd_id_at)
        assert first[-1] != different[-1] and first[-1].parents != different[-1].parents
        assert hash(first[-1].parents) != hash(different[-1].parents)
    assert _chain_of_images(100, 99)[-1].parents == first[-1].parents  # only the leaf differs


@pytest.mark.parametrize("copy_function", [lambda value: pickle.loads(pickle.dumps(value)),
                                           copy.deepcopy], ids=["pickle", "deepcopy"])
def test_image_chains_survive_pickling_and_copying_with_their_sharing(copy_function):
    images = _chain_of_images(120)
    copied = copy_function(images)
    assert copied == images
    assert all(type(image.parents) is ParentChain for image in copied[1:])
    assert copied[-1].parents[0] is copied[-2]
    assert copied[-1].parents[1:] == copied[-2].parents
    assert copied[-1].parents[-1] is copied[0]


def test_a_legacy_image_with_chained_parents_equals_one_with_a_tuple():
    base = _image(1)
    middle = _image(2, ParentChain(base))
    chained = _image(3, ParentChain(middle, middle.parents))
    plain = _image(3, (middle, base))
    assert chained == plain and hash(chained) == hash(plain)
    assert chained.parents == (middle, base)


ImageRow = namedtuple("ImageRow", [
    "repository_id", "id", "docker_image_id", "ancestors", "created", "comment", "command",
    "aggregate_size", "v1_json_metadata", "image_size", "uploading", "content_checksum"])


def _image_row(image_id: int) -> ImageRow:
    return ImageRow(9, image_id, "%064x" % image_id, "/unused/", datetime.datetime(2020, 1, 2),
                    "c%d" % image_id, "cmd", 30 + image_id, "{}", 10, False, "sha256:%d" % image_id)


def test_for_image_rows_builds_what_for_image_builds_with_shared_chains():
    rows = [_image_row(image_id) for image_id in (1, 2, 3, 4)]
    plain = [tuple(row) for row in rows]  # plain tuples: the columns name their values
    built = LegacyImage.for_image_rows(ImageRow._fields, plain, [None, 1, 2, 2],
                                       {3: ["a", "b"], 1: []})
    assert list(built) == [1, 2, 3, 4]
    one, two, three, four = built.values()
    assert one == LegacyImage.for_image(rows[0], parents=(), tags=())
    assert two == LegacyImage.for_image(rows[1], parents=(one,), tags=())
    assert three == LegacyImage.for_image(rows[2], parents=(two, one), tags=("a", "b"))
    assert four.parents == (two, one) and four.tags == ()
    assert type(three.parents) is ParentChain and three.parents[1:] == two.parents
    assert three.parents[0] is two and four.parents[0] is two
    assert len(three.parents) == 2 and three.parents[-1] is one
    untagged = LegacyImage.for_image_rows(ImageRow._fields, rows[:2], [None, 1], None)
    assert [image.tags for image in untagged.values()] == [None, None]
    assert LegacyImage.for_image_rows(ImageRow._fields, [], [], {}) == {}


def test_for_image_rows_stops_or_goes_on_at_a_parent_not_built_yet():
    rows = [_image_row(5), _image_row(6)]
    assert LegacyImage.for_image_rows(ImageRow._fields, rows, [6, None], {}) is None
    lenient = LegacyImage.for_image_rows(ImageRow._fields, rows, [6, None], {}, strict=False)
    assert [image.parents for image in lenient.values()] == [(), ()]
    with pytest.raises(ValueError):
        LegacyImage.for_image_rows(ImageRow._fields, rows, [None], {})


def _referrer_bytes(annotations) -> bytes:
    document = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}
    if annotations is not None:
        document["annotations"] = annotations
    return json.dumps(document).encode()


def test_referrers_for_rows_read_each_rows_own_bytes_and_hand_out_copies():
    digest = "sha256:" + "ab" * 32
    first, second = _referrer_bytes({"a": "1"}), _referrer_bytes({"b": "2"})
    names = {7: "application/vnd.oci.image.manifest.v1+json"}
    built = Referrer.for_rows([(digest, 7, "x/y", first), (digest, 7, None, bytearray(second)),
                               (digest, 7, None, memoryview(first)),
                               ("sha256:" + "cd" * 32, 7, None, _referrer_bytes(None))], names)
    # The same digest with other bytes (a row that is not what it says) is read again.
    assert [referrer.annotations for referrer in built] == [{"a": "1"}, {"b": "2"}, {"a": "1"}, {}]
    assert built[0] == Referrer(digest, names[7], len(first), "x/y", {"a": "1"})
    assert built[0] == Referrer.for_columns(digest, names[7], "x/y", first)
    built[0].annotations["changed"] = "by a caller"
    again = Referrer.for_rows([(digest, 7, None, first)], names)[0]
    assert again.annotations == {"a": "1"} and again.annotations is not built[2].annotations
    single = Referrer.for_columns(digest, names[7], None, first)
    single.annotations["changed"] = "by a caller"
    assert Referrer.for_columns(digest, names[7], None, first).annotations == {"a": "1"}
