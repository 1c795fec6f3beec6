"""Test data built through the interface, as a registry client would write it.

An :class:`ImageBuilder` creates namespaces and repositories, uploads real bytes (into a
blob store and through the interface's upload methods) and pushes images made of them;
each implementation of the interface has a subclass that knows which manifest format it
stores (:mod:`registry_model.testing.implementations` lists them). Its interface is
format-neutral: layers are bytes, labels a dict::

    builder = implementation.builder(model)
    repo = builder.repository("devtable", "simple")
    pushed = builder.push_image(repo, "latest", layers=[b"base", b"top"], labels={"a": "b"})
    pushed.manifest, pushed.tag, pushed.blob_digests

What the interface cannot write (a hidden tag) or cannot write fast enough for a test
is left to the subclass's bulk methods, so a conformance test never touches a wing's tables.

Where models differ by design, the builder says which way its model goes, and a test
asks the builder, never the implementation's name:

- ``supports_referrers``: the model stores subjects, so :meth:`ImageBuilder.push_referrer`
  works and ``lookup_referrers`` finds what it pushed (else it answers [] for free);
- ``supports_immutable_tags``: ``change_tag_immutability`` works (else it raises
  UnsupportedOperationException);
- ``pass_store_on_push``: pushes hand the blob store to ``create_manifest_and_retarget_tag``
  so the model reads the image config (labels, history) from it;
- ``legacy_images_are_rows``: legacy images are rows of their own, shared by every
  manifest whose lower layers agree (Docker chain ids): a Tag's ``image_id`` is its top
  image's id, collections count the image rows they remove, a tag owns only the images
  no other tag reaches, any image can be tagged. Else (OCI) they are a view of each
  image manifest's layers: ``image_id`` is None, collections remove no image rows, a tag
  owns its manifest's images when no other tag points at that manifest, and only a top
  image can be tagged. :meth:`ImageBuilder.tag_image_id` and
  :meth:`ImageBuilder.image_rows` give what a test expects either way.

A push's ``blob_digests`` are every blob the manifest references (a config blob too),
so a test counts links and blobs from them, never from its layers.
"""
import hashlib
import uuid
from typing import NamedTuple, Optional, Sequence

from registry_model.blobstore import InMemoryBlobStore
from registry_model.blobstore.base import BlobStore
from registry_model.datatypes import Blob, Manifest, RepositoryReference, Tag

UPLOAD_LOCATION = "local"
LINK_EXPIRATION_S = 3600


def sha256_digest(data: bytes | str) -> str:
    """``sha256:<hex>`` of the bytes (text is UTF-8 encoded)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_bytes(count: int, seed: str = "layer") -> list:
    """``count`` distinct layers (bytes), base first; the same seed gives the same layers."""
    return [("%s-%d" % (seed, index)).encode("utf-8") for index in range(count)]


class PushedImage(NamedTuple):
    """What a push returned (``manifest``, ``tag``) and its layers' digests, base first."""

    manifest: Manifest
    tag: Tag
    blob_digests: list


class ImageBuilder:
    """Writes test data through a RegistryDataInterface; subclasses build the manifests."""

    supports_referrers = False
    supports_immutable_tags = False
    pass_store_on_push = False
    legacy_images_are_rows = True

    def __init__(self, model, store: Optional[BlobStore] = None) -> None:
        self.model = model
        self.store = store if store is not None else InMemoryBlobStore()

    def namespace(self, name: str, removed_tag_expiration_s: Optional[int] = None):
        """Create a namespace through the interface; its Namespace."""
        return self.model.create_namespace(name, removed_tag_expiration_s)

    def repository(self, namespace_name: str, name: str, **kwargs) -> RepositoryReference:
        """Create ``namespace_name/name`` (and the namespace when missing); its reference."""
        return self.model.create_repository(namespace_name, name, create_namespace=True,
                                            **kwargs)

    def upload(self, repository_ref: RepositoryReference, data: bytes,
               expiration_s: int = LINK_EXPIRATION_S) -> Blob:
        """Upload ``data`` into the store and commit it into the repository: its Blob."""
        upload_id = str(uuid.uuid4())
        upload = self.model.create_blob_upload(repository_ref, upload_id, UPLOAD_LOCATION,
                                               {"store": "memory"})
        self.store.initiate_upload(upload_id)
        length = self.store.write_chunk(upload_id, 0, data)
        upload = self.model.update_blob_upload(upload, length, None, length, 1, None)
        digest = self.store.complete_upload(upload_id, sha256_digest(data)).digest
        return self.model.commit_blob_upload(upload, digest, expiration_s)

    def upload_all(self, repository_ref: RepositoryReference, blobs: Sequence[bytes],
                   expiration_s: int = LINK_EXPIRATION_S) -> dict:
        """Upload each distinct blob: ``{digest: Blob}`` in their order."""
        return {sha256_digest(data): self.upload(repository_ref, data, expiration_s)
                for data in dict.fromkeys(blobs)}

    def image_manifest(self, repository_ref: RepositoryReference, tag_name: str,
                       layers: Sequence[bytes], labels: Optional[dict] = None,
                       config: Optional[dict] = None):
        """The manifest object a client would push for these layers (format of the subclass).

        Its ``blob_digests`` are the blobs it needs linked, ``digest`` and ``bytes`` its
        identity. ``config`` holds extra image configuration (``created``, ``command``).
        """
        raise NotImplementedError

    def uploads_for(self, layers: Sequence[bytes], labels: Optional[dict] = None,
                    config: Optional[dict] = None) -> list:
        """Every blob a push of these layers uploads (the layers; a config blob if any)."""
        return list(layers)

    def push_image(self, repository_ref: RepositoryReference, tag_name: str,
                   layers: Sequence[bytes] = (b"layer",), labels: Optional[dict] = None,
                   config: Optional[dict] = None, upload: bool = True) -> PushedImage:
        """Push an image like a client: upload its blobs, then its manifest as ``tag_name``.

        Without ``upload`` the blobs must be linked to the repository already.
        """
        manifest = self.image_manifest(repository_ref, tag_name, layers, labels, config)
        if upload:
            self.upload_all(repository_ref, self.uploads_for(layers, labels, config))
        stored, tag = self.model.create_manifest_and_retarget_tag(repository_ref, manifest,
                                                                  tag_name, self.push_store())
        return PushedImage(stored, tag, list(manifest.blob_digests))

    def tag_image_id(self, top_image) -> Optional[int]:
        """What ``Tag.image_id`` is for a tag on the manifest whose top LegacyImage is this."""
        return top_image.id if self.legacy_images_are_rows else None

    def image_rows(self, count: int) -> int:
        """How many image rows a collection removes with ``count`` unshared legacy images."""
        return count if self.legacy_images_are_rows else 0

    def push_store(self) -> Optional[BlobStore]:
        """The ``storage`` argument of a push: the blob store when the model reads configs."""
        return self.store if self.pass_store_on_push else None

    def push_referrer(self, repository_ref: RepositoryReference, subject, artifact_type: str,
                      annotations: Optional[dict] = None, tag_name: Optional[str] = None):
        """Push an artifact whose subject is ``subject`` (a stored Manifest, or one from
        :meth:`image_manifest`, stored or not): ``(Manifest, Tag or None, parsed
        manifest)``. Only when ``supports_referrers``."""
        raise NotImplementedError("%s pushes no referrers" % type(self).__name__)

    # Bulk methods: what the interface cannot write, done by each implementation its way.

    def hide_tag(self, tag: Tag) -> None:
        """Make the alive tag hidden (as a registry hides its internal tags)."""
        raise NotImplementedError
