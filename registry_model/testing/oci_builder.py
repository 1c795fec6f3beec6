"""The OCI implementation's ImageBuilder: pushes OCI image manifests with a config blob.

The config is a real OCI image config, uploaded through the interface like the layers:
one history step per layer (the top one carries ``config``'s ``created``, ``command``
and ``comment``) and the labels as ``config.Labels``; pushes hand the blob store to the
model so it reads them. Referrers are OCI 1.1 artifacts: an empty config, one payload
layer and a ``subject``.

Where the OCI model differs from the pre-OCI one by design (what a test must not assume):
a Tag has no ``image_id`` and its ``docker_image_id`` is the synthetic id of the top
layer; a Manifest has no ``tag_id``; a LegacyImage has no ``v1_metadata_string``;
``retarget_tag`` to a legacy image below the top raises UnsupportedOperationException;
a push with no tag name returns ``(Manifest, None)``; tag lifetimes are kept in
milliseconds (a test moves time through both ``clock.now_ts`` and ``clock.now_ms``).
"""
import json
from typing import Optional, Sequence

from registry_model import media_types
from registry_model.datatypes import RepositoryReference, Tag
from registry_model.manifests import parse_manifest_from_bytes
from registry_model.testing.builders import ImageBuilder, sha256_digest

CREATED = "2024-01-02T03:04:05.123456789Z"
EMPTY_CONFIG = b"{}"


def descriptor(media_type: str, data: bytes, **extra) -> dict:
    """The OCI descriptor of ``data``."""
    return dict({"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)},
                **extra)


def image_config(layers: Sequence[bytes], labels: Optional[dict] = None,
                 config: Optional[dict] = None) -> bytes:
    """The OCI image config of these layers: history per layer, labels, ``config`` on top."""
    config = dict(config or {})
    history = []
    for index, data in enumerate(layers):
        top = index == len(layers) - 1
        step = {"created": config.get("created", CREATED) if top else CREATED,
                "created_by": " ".join(config["command"]) if top and "command" in config
                else "/bin/sh -c #(nop) " + sha256_digest(data)[7:15]}
        if top and "comment" in config:
            step["comment"] = config["comment"]
        history.append(step)
    document = {"architecture": "amd64", "os": "linux",
                "config": {"Labels": labels} if labels is not None else {},
                "rootfs": {"type": "layers", "diff_ids": [sha256_digest(data)
                                                         for data in layers]},
                "history": history}
    return json.dumps(document, sort_keys=True).encode("utf-8")


def _parse(document: dict):
    """The parsed manifest of a document (its bytes as written)."""
    return parse_manifest_from_bytes(json.dumps(document, indent=3).encode("utf-8"),
                                     document["mediaType"])


class OCIImageBuilder(ImageBuilder):
    """Pushes OCI image manifests and referrers; hides tags in the OCI tag table."""

    supports_referrers = True
    supports_immutable_tags = True
    pass_store_on_push = True
    legacy_images_are_rows = False

    def image_manifest(self, repository_ref: RepositoryReference, tag_name: str,
                       layers: Sequence[bytes], labels: Optional[dict] = None,
                       config: Optional[dict] = None):
        return _parse({
            "schemaVersion": 2, "mediaType": media_types.OCI_MANIFEST_CONTENT_TYPE,
            "config": descriptor(media_types.OCI_CONFIG_CONTENT_TYPE,
                                 image_config(layers, labels, config)),
            "layers": [descriptor(media_types.OCI_LAYER_GZIP_CONTENT_TYPE, data)
                       for data in layers]})

    def uploads_for(self, layers: Sequence[bytes], labels: Optional[dict] = None,
                    config: Optional[dict] = None) -> list:
        return [image_config(layers, labels, config)] + list(layers)

    def push_referrer(self, repository_ref: RepositoryReference, subject, artifact_type: str,
                      annotations: Optional[dict] = None, tag_name: Optional[str] = None):
        payload = ("%s of %s" % (artifact_type, subject.digest)).encode("utf-8")
        self.upload_all(repository_ref, [EMPTY_CONFIG, payload])
        document = {
            "schemaVersion": 2, "mediaType": media_types.OCI_MANIFEST_CONTENT_TYPE,
            "artifactType": artifact_type,
            "config": descriptor(media_types.OCI_EMPTY_CONTENT_TYPE, EMPTY_CONFIG),
            "layers": [descriptor("application/octet-stream", payload)],
            "subject": {"mediaType": subject.media_type, "digest": subject.digest,
                        "size": len(getattr(subject, "manifest_bytes", None)
                                    or subject.bytes)}}
        if annotations is not None:
            document["annotations"] = annotations
        parsed = _parse(document)
        stored, tag = self.model.create_manifest_and_retarget_tag(repository_ref, parsed,
                                                                  tag_name, self.push_store())
        return stored, tag, parsed

    def hide_tag(self, tag: Tag) -> None:
        from registry_model.oci.tables import Tag as TagRow

        TagRow.update(hidden=True).where(TagRow.id == tag.id).execute()
