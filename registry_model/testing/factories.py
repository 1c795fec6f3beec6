"""factory-boy factories for every table a test usually needs.

Each fills every required field with valid values and builds foreign keys with
sub-factories, so ``RepositoryTagFactory(repository=repo, name="latest")`` makes
the image and storage it needs. Rows are written with peewee directly (the
model layer's rules are what tests check, not what fixtures go through), but
with the same derived values the model layer would write: ``ImageFactory``
fills ``ancestors`` from ``parent=``, ``TagManifestFactory`` a schema-1-shaped
manifest naming its repository and tag, with its ``sha256:`` digest.
"""
import hashlib
import json
import time

try:
    import factory
except ImportError:  # pragma: no cover - exercised in a subprocess without factory-boy
    raise ImportError("registry_model.testing.factories needs factory-boy, which the plain "
                      "package does not install: pip install 'registry_model[testing]'"
                      ) from None

from registry_model.media_types import schema1_media_type
from registry_model.model import lookup
from registry_model.model.tables import (
    ImageStorage,
    ImageStoragePlacement,
    Namespace,
    Repository,
    RepositoryState,
)
from registry_model.pre_oci.ancestors import child_path
from registry_model.pre_oci.tables import Image, RepositoryTag, TagManifest


class PeeweeModelFactory(factory.Factory):
    """Base factory: ``create`` inserts the row with ``Model.create``.

    A value the model has no field for (nor the factory a declaration) raises TypeError
    before any row is written: peewee keeps unknown keyword arguments as plain attributes,
    so a misspelt field (``NamespaceFactory(username="x")``) would otherwise vanish.
    """

    class Meta:
        abstract = True

    @classmethod
    def _generate(cls, strategy, params):
        model_class = cls._meta.model
        if model_class is not None:
            known = set(model_class._meta.fields) | set(cls._meta.declarations)
            known.update(field.object_id_name for field in model_class._meta.refs)
            unknown = sorted({name.split("__")[0] for name in params} - known)
            if unknown:
                raise TypeError("%s: %s has no field %s (fields: %s)"
                                % (cls.__name__, model_class.__name__,
                                   ", ".join(map(repr, unknown)),
                                   ", ".join(sorted(model_class._meta.fields))))
        return super()._generate(strategy, params)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.create(*args, **kwargs)


class NamespaceFactory(PeeweeModelFactory):
    class Meta:
        model = Namespace

    name = factory.Sequence(lambda n: "namespace%d" % n)


class RepositoryFactory(PeeweeModelFactory):
    class Meta:
        model = Repository

    class Params:
        kind_name = "image"
        visibility_name = "private"

    namespace = factory.SubFactory(NamespaceFactory)
    name = factory.Sequence(lambda n: "repository%d" % n)
    kind = factory.LazyAttribute(lambda o: lookup.kind_id(o.kind_name))
    visibility = factory.LazyAttribute(lambda o: lookup.visibility_id(o.visibility_name))
    state = RepositoryState.NORMAL


def _fake_digest(n: int) -> str:
    return "sha256:" + hashlib.sha256(b"registry_model-test-blob-%d" % n).hexdigest()


class ImageStorageFactory(PeeweeModelFactory):
    """A finished blob record, placed in the ``local`` location."""

    class Meta:
        model = ImageStorage

    content_checksum = factory.Sequence(_fake_digest)
    image_size = factory.Sequence(lambda n: 1024 + n)
    uncompressed_size = factory.LazyAttribute(lambda o: o.image_size * 3)
    uploading = False

    @factory.post_generation
    def locations(storage, create, extracted, **kwargs):
        if create:
            ImageStoragePlacement.insert_many(
                [{"storage": storage.id, "location": lookup.location_id(name)}
                 for name in (extracted or ("local",))]).execute()


class ImageFactory(PeeweeModelFactory):
    """A legacy image; ``parent=`` another image of the same repository fills ``ancestors``."""

    class Meta:
        model = Image

    class Params:
        parent = None

    repository = factory.LazyAttribute(
        lambda o: o.parent.repository if o.parent is not None else RepositoryFactory())
    docker_image_id = factory.Sequence(
        lambda n: hashlib.sha256(b"registry_model-test-image-%d" % n).hexdigest())
    storage = factory.SubFactory(ImageStorageFactory)
    ancestors = factory.LazyAttribute(
        lambda o: child_path(o.parent))
    aggregate_size = factory.LazyAttribute(
        lambda o: o.storage.image_size + (o.parent.aggregate_size or 0 if o.parent else 0))
    v1_json_metadata = factory.LazyAttribute(
        lambda o: json.dumps({"id": o.docker_image_id,
                              "parent": o.parent.docker_image_id if o.parent else None}))


class RepositoryTagFactory(PeeweeModelFactory):
    """An alive tag (no end) started now, on a new image of its repository unless given."""

    class Meta:
        model = RepositoryTag

    repository = factory.SubFactory(RepositoryFactory)
    name = factory.Sequence(lambda n: "tag%d" % n)
    image = factory.SubFactory(ImageFactory, repository=factory.SelfAttribute("..repository"))
    lifetime_start_ts = factory.LazyFunction(lambda: int(time.time()))
    lifetime_end_ts = None
    hidden = False
    reversion = False


def schema1_manifest_json(tag: RepositoryTag) -> str:
    """A schema-1-shaped manifest naming the tag's repository, tag name and image."""
    repository = tag.repository
    image = tag.image
    return json.dumps({
        "schemaVersion": 1,
        "name": "%s/%s" % (repository.namespace.name, repository.name),
        "tag": tag.name,
        "architecture": "amd64",
        "fsLayers": [{"blobSum": image.storage.content_checksum}],
        "history": [{"v1Compatibility": json.dumps({"id": image.docker_image_id})}],
    }, indent=3)


class TagManifestFactory(PeeweeModelFactory):
    class Meta:
        model = TagManifest

    tag = factory.SubFactory(RepositoryTagFactory)
    json_data = factory.LazyAttribute(lambda o: schema1_manifest_json(o.tag))
    digest = factory.LazyAttribute(
        lambda o: "sha256:" + hashlib.sha256(o.json_data.encode("utf-8")).hexdigest())
    media_type = factory.LazyAttribute(
        lambda o: lookup.media_type_id(schema1_media_type(o.json_data)))
