"""Import ``docker save`` archives into a repository (export: :mod:`registry_model.image_export`).

::

    from registry_model.blobstore import FilesystemBlobStore
    from registry_model.images import import_archive, load_signing_key

    store = FilesystemBlobStore("blobs")
    key = load_signing_key("signing-key.json")    # created on first use; keep it outside "blobs"
    result = import_archive("hello.tar", "acme", "hello", store, key)   # tag from the archive

An import reads the archive (every layout :func:`read_docker_archive` knows), synthesizes the
legacy V1 JSON of each layer from the image config (:func:`v1_layers_from_config`; the minimal
per-layer JSON skopeo writes is not trusted), uploads the layers the repository lacks through
the data interface exactly as a registry serving a chunked push would (``create_blob_upload``,
chunks into the blob store with a resumable SHA-256, ``update_blob_upload``,
``commit_blob_upload``), then stores a schema 1 manifest signed with the registry's key and
points the tag at it (``create_manifest_and_retarget_tag``).

Nothing is written, to the database or the blob store, before every layer that will be uploaded
has been read once and matched against its diff_id, so a corrupt or truncated archive leaves no
trace. Orphans remain only when a later step fails (the archive changes between the two reads,
the disk fills up, the database goes away): blobs committed before the failure stay linked to
the repository for :data:`BLOB_LINK_EXPIRATION_S`, a layer stored but not committed leaves its
file under ``blobs/`` with no row, and a repository the import created stays (empty); the
layer uploads in progress are cancelled, rows and files. Running the import again completes
it, reusing what was committed; what a registry's garbage collector reclaims is the rest.
Once the manifest is stored, the import drops the repository's temporary links of its layers
(``release_blob_links``): the manifest's images hold them from then on, so when the tag is
gone and its time-machine window has passed, the collector takes the layers no other image
uses.

Failures are :mod:`registry_model.errors` exceptions with a one-line message. Progress is
reported through an optional callback, never printed.
"""
import json
import logging
import os
import uuid
from typing import Callable, NamedTuple, Optional

from jwcrypto.jwk import JWK

from registry_model import errors, media_types, validation
from registry_model import registry_model as default_model
from registry_model.archive import (
    ArchiveException,
    DockerArchive,
    read_docker_archive,
    v1_layers_from_config,
)
from registry_model.blobstore import BlobStore, ResumableSHA256
from registry_model.blobstore import UploadNotFoundException as StoreUploadNotFound
from registry_model.datatypes import Manifest, RepositoryReference, RepositoryState, Tag
from registry_model.interface import RegistryDataInterface
from registry_model.manifests import (
    DockerSchema1Manifest,
    DockerSchema1ManifestBuilder,
    generate_signing_key,
    parse_manifest_from_bytes,
)

logger = logging.getLogger(__name__)

DEFAULT_TAG = "latest"
SIGNING_KEY_FILE = "signing-key.json"
STORAGE_LOCATION = "local"
# Long enough for the manifest to follow; a collector reclaims the blob after it if no image
# of the repository took it over.
BLOB_LINK_EXPIRATION_S = 24 * 60 * 60
# Bytes per blob-store chunk, each followed by update_blob_upload: the resumable state a
# registry would save between the PATCH requests of a chunked upload.
UPLOAD_CHUNK_SIZE = 8 * 1024 * 1024
_READ_SIZE = 1024 * 1024

# progress(stage, byte_count, stage_total): byte_count more bytes of stage_total were handled
# in stage ("verify" and "upload" on import, "export").
Progress = Callable[[str, int, int], None]


class SigningKeyException(errors.DataModelException):
    """The signing key file cannot be read, or holds no private JWK."""


class ImportedLayer(NamedTuple):
    """One layer of an import, base first: its digest, size, V1 id and whether it was uploaded.

    On a model that stores manifests as they are (OCI) every blob is listed, configs
    included, and ``v1_id`` is None.
    """

    digest: str
    size: int
    v1_id: str
    uploaded: bool


class ImportResult(NamedTuple):
    """What :func:`import_archive` did: the repository, the moved tag, the stored manifest."""

    repository: RepositoryReference
    tag: Tag
    manifest: Manifest
    layers: tuple
    created_repository: bool
    children: tuple = ()  # the child Manifests of an imported index, stored by digest

    @property
    def uploaded_bytes(self) -> int:
        """The layer bytes that were uploaded (layers already linked are not counted)."""
        return sum(layer.size for layer in self.layers if layer.uploaded)


def report(progress: Optional[Progress], stage: str, count: int, total: int) -> None:
    """Tell ``progress`` (if any) that ``count`` more bytes of ``total`` went through ``stage``."""
    if progress is not None and count:
        progress(stage, count, total)


# --- names and keys ---------------------------------------------------------------------


def _is_registry_host(component: str) -> bool:
    # Docker's rule (reference.splitDockerDomain): a first component with "." or ":" or
    # "localhost" is a registry host, not a namespace.
    return "." in component or ":" in component or component == "localhost"


def normalize_repo_tag(repo_tag: str) -> tuple:
    """``(namespace/name, tag)`` of an archive's repo tag, without its registry host.

    The tag is None when the repo tag has none. ``docker.io/acme/hello:1.0`` and
    ``acme/hello:1.0`` both give ``("acme/hello", "1.0")``; a single-component name gets
    Docker's implicit ``library/`` namespace.
    """
    name = repo_tag.partition("@")[0]
    tag = None
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    components = name.split("/")
    if len(components) > 1 and _is_registry_host(components[0]):
        components = components[1:]
    if len(components) == 1:
        components = ["library"] + components
    return "/".join(components), tag


def archive_tag(archive: DockerArchive, namespace_name: str, repo_name: str) -> Optional[str]:
    """The tag the archive names for the image: of a repo tag naming this repository, else the
    first valid one; None when the archive names none (``docker save IMAGE_ID``)."""
    wanted = "%s/%s" % (namespace_name, repo_name)
    tags = [normalize_repo_tag(repo_tag) for repo_tag in archive.repo_tags]
    valid = [(name, tag) for name, tag in tags if validation.is_valid_tag_name(tag)]
    for name, tag in valid:
        if name == wanted:
            return tag
    return valid[0][1] if valid else None


def load_signing_key(path: str, create: bool = True) -> JWK:
    """The private JWK kept as JSON at ``path``; generated and written (mode 0600) when missing.

    With ``create`` False a missing file is an error. The file is created exclusively, so two
    processes starting at once end up with the same key. Raises SigningKeyException for a file
    that cannot be read or holds no private key.
    """
    path = os.fspath(path)
    if create and not os.path.exists(path):
        key = generate_signing_key()
        folder = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(folder, exist_ok=True)
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_signing_key(path, create=False)
        except OSError as exc:
            raise SigningKeyException("cannot create signing key %s: %s"
                                      % (path, exc.strerror or exc)) from None
        with os.fdopen(handle, "w") as out:
            out.write(key.export_private())
        logger.info("created signing key %s", path)
        return key
    try:
        with open(path) as source:
            text = source.read()
    except OSError as exc:
        raise SigningKeyException("cannot read signing key %s: %s"
                                  % (path, exc.strerror or exc)) from None
    try:
        key = JWK.from_json(text)
    except Exception as exc:  # jwcrypto raises assorted types for malformed keys
        raise SigningKeyException("signing key %s is not a JWK: %s"
                                  % (path, str(exc).splitlines()[0] if str(exc) else
                                     type(exc).__name__)) from None
    if not key.has_private:
        raise SigningKeyException("signing key %s holds a public key only" % path)
    return key


# --- import -----------------------------------------------------------------------------


def build_manifest(namespace_name: str, repo_name: str, tag_name: str, archive: DockerArchive,
                   v1_jsons: list, signing_key: Optional[JWK]) -> DockerSchema1Manifest:
    """The schema 1 manifest of the archive's image, signed with ``signing_key`` when given.

    ``v1_jsons`` are the layers' V1 JSON, base first; the builder takes them leaf first. The
    result is parsed back from its bytes, as a registry parses what a client pushed.
    """
    architecture = archive.config.get("architecture")
    builder = DockerSchema1ManifestBuilder(
        namespace_name, repo_name, tag_name,
        architecture=architecture if isinstance(architecture, str) and architecture else "amd64")
    for layer, v1_json in reversed(list(zip(archive.layers, v1_jsons, strict=True))):
        builder.add_layer(layer.diff_id, v1_json)
    built = builder.build(signing_key)
    return parse_manifest_from_bytes(built.bytes, built.media_type)


def _importable_repository(model: RegistryDataInterface, namespace_name: str,
                           repo_name: str) -> Optional[RepositoryReference]:
    """The image repository to import into, None when it must be created; else an error."""
    ref = model.lookup_repository(namespace_name, repo_name, kind_filter="image")
    if ref is None:
        found = model.get_repository(namespace_name, repo_name)
        if found is None:
            return None
        if found.state == RepositoryState.MARKED_FOR_DELETION:
            raise errors.DataModelException("repository %s/%s is being deleted"
                                            % (namespace_name, repo_name))
        raise errors.DataModelException("repository %s/%s is not an image repository"
                                        % (namespace_name, repo_name))
    if ref.state != RepositoryState.NORMAL:
        raise errors.DataModelException("repository %s/%s is %s: nothing can be pushed to it"
                                        % (namespace_name, repo_name,
                                           RepositoryState(ref.state).name.lower()))
    return ref


def _create_repository(model: RegistryDataInterface, namespace_name: str,
                       repo_name: str) -> RepositoryReference:
    """Create the namespace (when missing) and the private repository, in one transaction."""
    try:
        model.create_repository(namespace_name, repo_name, create_namespace=True)
    except errors.DuplicateException:
        # A concurrent import created it: use it, if it is an image repository still.
        logger.info("%s/%s was created concurrently", namespace_name, repo_name)
    ref = _importable_repository(model, namespace_name, repo_name)
    if ref is None:
        raise errors.NotFoundException("repository %s/%s vanished while being created"
                                       % (namespace_name, repo_name))
    return ref


def _layers_to_upload(model: RegistryDataInterface, ref: Optional[RepositoryReference],
                      store: BlobStore, blobs) -> list:
    """The blobs to upload (anything with ``blob_digest``, ``size`` and ``open()``, such as
    an archive's layers): each digest once, unless linked and in the store."""
    pending, seen = [], set()
    for layer in blobs:
        if layer.blob_digest in seen:
            continue
        seen.add(layer.blob_digest)
        linked = ref is not None and model.get_repo_blob_by_digest(ref, layer.blob_digest)
        if linked and store.exists(layer.blob_digest):
            logger.debug("blob %s is linked to the repository already", layer.blob_digest)
            continue
        pending.append(layer)
    return pending


def _verify(layers: list, progress: Optional[Progress]) -> None:
    total = sum(layer.size for layer in layers)
    for layer in layers:
        with layer.open() as stream:  # raises ArchiveException at the end of a bad layer
            for chunk in iter(lambda s=stream: s.read(_READ_SIZE), b""):
                report(progress, "verify", len(chunk), total)


def _upload_layer(model: RegistryDataInterface, store: BlobStore, ref: RepositoryReference,
                  layer, total: int, progress: Optional[Progress]) -> None:
    """Upload one layer as a registry serves a chunked blob upload, then commit it."""
    upload_id = str(uuid.uuid4())
    upload = model.create_blob_upload(ref, upload_id, STORAGE_LOCATION, None)
    committed = False
    chunks = 0
    try:
        store.initiate_upload(upload_id)
        hasher = ResumableSHA256()
        with layer.open() as stream:
            for chunk in iter(lambda: stream.read(UPLOAD_CHUNK_SIZE), b""):
                length = store.write_chunk(upload_id, hasher.length, chunk, hasher)
                chunks += 1
                upload = model.update_blob_upload(
                    upload, uncompressed_byte_count=length, storage_metadata=None,
                    byte_count=length, chunk_count=chunks, sha_state=hasher.to_state())
                if upload is None:
                    raise errors.NotFoundException("upload %s vanished" % upload_id)
                report(progress, "upload", len(chunk), total)
        store.complete_upload(upload_id, layer.blob_digest, hasher.to_state())
        committed = model.commit_blob_upload(upload, layer.blob_digest,
                                             BLOB_LINK_EXPIRATION_S) is not None
        if not committed:
            raise errors.NotFoundException("upload %s vanished before its commit" % upload_id)
    finally:
        if not committed:
            try:
                store.cancel_upload(upload_id)
            except StoreUploadNotFound:
                pass  # never started, or completed into a blob: a documented orphan
            model.delete_blob_upload(upload)
    logger.debug("uploaded blob %s (%d bytes, %d chunks)", layer.blob_digest, layer.size, chunks)


def import_archive(archive_path, namespace_name: str, repo_name: str, store: BlobStore,
                   signing_key: Optional[JWK], tag_name: Optional[str] = None, *,
                   model: Optional[RegistryDataInterface] = None,
                   progress: Optional[Progress] = None, platform: Optional[str] = None,
                   all_platforms: bool = False) -> ImportResult:
    """Import the image of a ``docker save`` archive as ``namespace/repo:tag``.

    On a model that stores Docker schema 2 and OCI manifests as they are (its
    ``stored_manifest_media_types``, the OCI model) the archive may also be an
    oci-archive or an OCI layout folder, recognized by content, and nothing is
    synthesized: see :func:`registry_model.oci_images.import_image`, which also takes
    ``platform`` (``os/arch[/variant]``) and ``all_platforms`` for a multi-platform index;
    ``signing_key`` is unused there. What follows is the schema 1 import of the pre-OCI
    model.

    ``tag_name`` defaults to the archive's own tag (see :func:`archive_tag`), else
    ``latest``. The namespace and a private repository are created when missing. The layers
    the repository lacks are checked against their diff_ids, then uploaded into ``store`` and
    linked through the interface (``model``, the package's PreOCIModel by default); layers it
    holds already are neither read nor checked. The manifest is signed with ``signing_key``
    (unsigned when None). Importing the same archive again uploads nothing and only moves
    the tag to the same manifest digest. Raises an :mod:`registry_model.errors`
    exception with nothing written for bad names, a corrupt or truncated archive, a layer
    whose content does not match its diff_id, or a repository that cannot take a push.
    """
    model = model if model is not None else default_model
    validation.check_namespace_name(namespace_name)
    validation.check_repository_name(repo_name)
    if tag_name is not None:
        validation.check_tag_name(tag_name)
    if media_types.OCI_MANIFEST_CONTENT_TYPE in model.stored_manifest_media_types:
        # Imported here, not at the top: registry_model.oci_images builds on this module.
        from registry_model.oci_images import PlatformSpec, import_image

        return import_image(archive_path, namespace_name, repo_name, store, tag_name,
                            model=model, progress=progress, all_platforms=all_platforms,
                            platform=PlatformSpec.parse(platform) if platform else None)
    if isinstance(archive_path, (str, os.PathLike)) and os.path.isdir(archive_path):
        raise errors.UnsupportedOperationException(
            "%s is a folder: the pre-OCI model imports docker save archives only"
            % os.fspath(archive_path))
    archive = read_docker_archive(archive_path)
    if not archive.layers:
        raise ArchiveException("the archive's image has no layers")
    tag_name = tag_name or archive_tag(archive, namespace_name, repo_name) or DEFAULT_TAG
    v1_jsons = v1_layers_from_config(archive.config_bytes,
                                     [layer.diff_id for layer in archive.layers])
    manifest = build_manifest(namespace_name, repo_name, tag_name, archive, v1_jsons,
                              signing_key)

    ref = _importable_repository(model, namespace_name, repo_name)
    pending = _layers_to_upload(model, ref, store, archive.layers)
    _verify(pending, progress)
    created = ref is None
    if created:
        ref = _create_repository(model, namespace_name, repo_name)
    total = sum(layer.size for layer in pending)
    for layer in pending:
        _upload_layer(model, store, ref, layer, total, progress)
    stored, tag = model.create_manifest_and_retarget_tag(ref, manifest, tag_name, None)
    # The manifest's images now hold the layers; the upload links would only keep them from
    # the collector for a day after the tag is gone.
    model.release_blob_links(ref, [layer.diff_id for layer in archive.layers])
    uploaded = {id(layer) for layer in pending}  # a repeated layer is uploaded once
    layers = tuple(ImportedLayer(layer.diff_id, layer.size, json.loads(v1_json)["id"],
                                 id(layer) in uploaded)
                   for layer, v1_json in zip(archive.layers, v1_jsons, strict=True))
    logger.info("imported %s/%s:%s as %s (%d of %d layers uploaded)", namespace_name,
                repo_name, tag_name, stored.digest, len(pending), len(layers))
    return ImportResult(ref, tag, stored, layers, created)
