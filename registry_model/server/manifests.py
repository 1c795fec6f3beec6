"""Manifests: PUT by tag or digest, GET/HEAD with Accept negotiation, DELETE.

A manifest is answered with the exact bytes pushed and the media type it was pushed as.
A client's Accept header must admit that media type (wildcards count; no header admits
everything): the library stores one form of each manifest and converts none, so a client
that accepts none of it gets MANIFEST_UNKNOWN.
"""
import logging

from flask import Response, request

from registry_model import errors, validation
from registry_model.datatypes import Manifest, RepositoryReference
from registry_model.manifests import ManifestException, parse_manifest_from_bytes
from registry_model.server.context import find_or_create_repository, find_repository, registry
from registry_model.server.errors import RegistryError

logger = logging.getLogger(__name__)


def _is_digest(reference: str) -> bool:
    return ":" in reference  # a tag cannot hold one


def _find_manifest(ref: RepositoryReference, reference: str) -> Manifest:
    model = registry().model
    manifest = None
    if _is_digest(reference):
        if validation.is_valid_digest(reference):
            manifest = model.lookup_manifest_by_digest(ref, reference)
    elif validation.is_valid_tag_name(reference):
        tag = model.get_repo_tag(ref, reference)
        manifest = model.get_manifest_for_tag(tag) if tag is not None else None
    if manifest is None:
        raise RegistryError("MANIFEST_UNKNOWN", {"reference": reference})
    return manifest


def _accepted(media_type: str) -> bool:
    accept = request.accept_mimetypes
    return not accept or accept[media_type] > 0


def get_manifest(name: str, reference: str) -> Response:
    """HEAD/GET: the stored bytes, their media type and Docker-Content-Digest."""
    manifest = _find_manifest(find_repository(name), reference)
    if not _accepted(manifest.media_type):
        raise RegistryError("MANIFEST_UNKNOWN", {"reference": reference,
                                                 "mediaType": manifest.media_type},
                            message="manifest not available in an accepted media type")
    body = b"" if request.method == "HEAD" else manifest.manifest_bytes
    response = Response(body, status=200, content_type=manifest.media_type,
                        headers={"Docker-Content-Digest": manifest.digest})
    response.content_length = len(manifest.manifest_bytes)
    return response


def _read_manifest_body() -> bytes:
    """The request body, refused (413) past the manifest size limit without reading it all."""
    limit = validation.MAX_MANIFEST_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise RegistryError("SIZE_INVALID", "manifests are at most %d bytes" % limit, status=413)
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise RegistryError("SIZE_INVALID", "manifests are at most %d bytes" % limit, status=413)
    return body


def put_manifest(name: str, reference: str) -> Response:
    """PUT: parse, check the digest a digest reference names, store, tag: 201."""
    if not _is_digest(reference) and not validation.is_valid_tag_name(reference):
        raise RegistryError("MANIFEST_INVALID", {"tag": reference},
                            message="invalid tag name: %s" % validation.TAG_RULE)
    if _is_digest(reference) and not validation.is_valid_digest(reference):
        raise RegistryError("DIGEST_INVALID", {"digest": reference})
    body = _read_manifest_body()
    algorithm = reference.split(":", 1)[0] if _is_digest(reference) else "sha256"
    content_type = request.mimetype or None
    try:
        parsed = parse_manifest_from_bytes(body, content_type, digest_algorithm=algorithm)
    except ManifestException as exc:
        raise RegistryError("MANIFEST_INVALID", str(exc)) from None
    if _is_digest(reference) and parsed.digest != reference:
        raise RegistryError("DIGEST_INVALID", {"expected": reference, "actual": parsed.digest})
    ref = find_or_create_repository(name)
    model, store = registry()
    tag_name = None if _is_digest(reference) else reference
    try:
        manifest, _ = model.create_manifest_and_retarget_tag(ref, parsed, tag_name, store)
    except errors.ManifestBlobUnknownException as exc:
        raise RegistryError("MANIFEST_BLOB_UNKNOWN", str(exc)) from None
    except errors.ImmutableTagException as exc:
        raise RegistryError("DENIED", str(exc)) from None
    except (errors.InvalidLabelValueException, errors.InvalidLabelKeyException,
            ManifestException) as exc:
        raise RegistryError("MANIFEST_INVALID", str(exc)) from None
    # The manifest holds its blobs now; their upload links would only delay collection.
    model.release_blob_links(ref, list(parsed.blob_digests))
    headers = {"Location": "/v2/%s/manifests/%s" % (name, manifest.digest),
               "Docker-Content-Digest": manifest.digest, "Content-Length": "0"}
    if parsed.subject is not None:
        headers["OCI-Subject"] = parsed.subject.digest
    return Response(status=201, headers=headers)


def delete_manifest(name: str, reference: str) -> Response:
    """DELETE: by digest, end every tag of the manifest (a push by digest's too); by tag,
    end that tag: 202."""
    ref = find_repository(name)
    model = registry().model
    try:
        if _is_digest(reference):
            if model.delete_manifest(ref, reference) is None:
                raise RegistryError("MANIFEST_UNKNOWN", {"reference": reference})
        elif (not validation.is_valid_tag_name(reference)
              or model.delete_tag(ref, reference) is None):
            raise RegistryError("MANIFEST_UNKNOWN", {"reference": reference})
    except errors.ImmutableTagException as exc:
        raise RegistryError("DENIED", str(exc)) from None
    return Response(status=202)
