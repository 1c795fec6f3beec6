"""Media types of stored manifests, shared by the datatypes and the model layer."""
import json

DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE = (
    "application/vnd.docker.distribution.manifest.v1+prettyjws")


def schema1_media_type(manifest_bytes: bytes | str) -> str:
    """The schema 1 media type of a stored manifest: signed when it carries signatures."""
    try:
        parsed = json.loads(manifest_bytes)
    except ValueError:
        return DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE
    if isinstance(parsed, dict) and not parsed.get("signatures"):
        return DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE
    return DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE
