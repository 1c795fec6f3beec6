"""OCI manifests: stored byte for byte per repository, with their blobs, children and subject.

A manifest row keeps the exact bytes pushed, their media type, and what reads need
without parsing them again (config media type, artifact type, subject digest, the
layers' total size, the config history of each layer). Its blobs (config and
layers) are ManifestBlob rows and its children (a list's or index's manifests)
ManifestChild rows, written in the same transaction as the manifest, whatever
their number, in a constant number of statements.

A manifest is *visible* in its repository when an alive tag points at it, when it
is a child of a visible list or index, or when its subject is a visible manifest, at
any depth and in any mix: an image in an index in a tagged index, a referrer of that
image, the children of an index that is itself a referrer of a tagged image. That is
the collector's rule with only the alive tags counted (every tag row with
``allow_dead``), so whatever a lookup finds, a collection keeps. One recursive query
walks up from the manifest asked for, through the lists naming it and its subject,
each step an index probe; nothing else in the wing applies the rule (blob reads, the
legacy view and referrer listings go by the repository, not by tags).
"""
import logging
from typing import Optional

from peewee import JOIN, SQL, Expression, Select, fn

from registry_model import errors, validation
from registry_model.connection import backend_name
from registry_model.manifests import ParsedManifest
from registry_model.model import blob as blob_model
from registry_model.model import lookup
from registry_model.model.label import EXPIRES_AFTER_KEY
from registry_model.model.tables import Label, Namespace, Repository
from registry_model.oci.legacy import ALGORITHMS
from registry_model.oci.tables import Manifest, ManifestBlob, ManifestChild, ManifestLabel, Tag
from registry_model.oci.tag import alive_clause
from registry_model.statements import Statement, param
from registry_model.transactions import locked

logger = logging.getLogger(__name__)


def _kept_by():
    """CTE of the manifest asked for and every manifest that keeps it, transitively.

    Its ids are the manifest (by ``repository_id`` and ``digest``) and, for each member,
    every list or index naming it as a child and the manifest its subject names: the
    collector's graph walked upwards, so any tag row on a member keeps the manifest.
    Each step is index probes from one member (the child index, the primary key, the
    ``(repository, digest)`` key), never a scan of the repository. Both kinds of step
    come from one recursive term, as PostgreSQL allows only one reference to the CTE
    there and MariaDB has no LATERAL: each member is joined to two constant rows, kind 0
    taking its parents and kind 1 its subject.
    """
    start = (Manifest.select(Manifest.id)
             .where(Manifest.repository == param("repository_id"),
                    Manifest.digest == param("digest")))
    kept_by = start.cte("kept_by", recursive=True, columns=("id",))
    step_kind = (Select(columns=(SQL("0").alias("kind"),))
                 .union_all(Select(columns=(SQL("1"),)))).alias("step_kind")
    member = Manifest.alias("member_manifest")
    subject = Manifest.alias("subject_manifest")
    # A scalar subquery, not a join: SQLite would build a Bloom filter for the join by
    # reading every manifest of the repository. A subject not stored (a referrer pushed
    # first) gives one NULL member, which matches no tag, child or manifest.
    subject_id = (subject.select(subject.id)
                  .where(subject.repository == param("repository_id"),
                         subject.digest == member.subject))
    step = (Select((kept_by,), (fn.COALESCE(ManifestChild.manifest, subject_id),))
            .join(step_kind, JOIN.CROSS)
            .join(ManifestChild, JOIN.LEFT_OUTER,
                  on=((step_kind.c.kind == SQL("0"))
                      & (ManifestChild.child_manifest == kept_by.c.id)))
            .join(member, JOIN.LEFT_OUTER,
                  on=((step_kind.c.kind == SQL("1")) & (member.id == kept_by.c.id)))
            .where(ManifestChild.id.is_null(False) | member.subject.is_null(False)))
    return kept_by.union(step)


def _tag_keeps(kept_by, now, any_tag: bool) -> Expression:
    """WHERE clause: a member of ``kept_by`` is under an alive tag (``any_tag``: any tag
    row), one probe of the tag index per member."""
    tags = Tag.select(Tag.id).where(Tag.manifest == kept_by.c.id)
    if not any_tag:
        tags = tags.where(alive_clause(now))
    # Not kept_by.select_from(), which would repeat the WITH inside the subquery.
    return fn.EXISTS(Select((kept_by,), (SQL("1"),)).where(fn.EXISTS(tags)))


def _manifest_columns(datatype_only: bool = False):
    """The columns of a flat manifest row; ``datatype_only``: what a Manifest datatype
    reads (id, digest, media type, bytes), leaving the layer history (about 200 bytes a
    layer) and the push-time columns unread."""
    columns = (Manifest.id, Manifest.digest, Manifest.media_type, Manifest.manifest_bytes)
    if datatype_only:
        return columns
    return columns + (Manifest.config_media_type, Manifest.artifact_type, Manifest.subject,
                      Manifest.layers_compressed_size, Manifest.layer_history)


def _visible_by_digest(any_tag: bool, datatype_only: bool):
    kept_by = _kept_by()
    return (Manifest.select(*_manifest_columns(datatype_only))
            .where(Manifest.repository == param("repository_id"),
                   Manifest.digest == param("digest"),
                   _tag_keeps(kept_by, param("now"), any_tag))
            .with_cte(kept_by))


_VISIBLE_BY_DIGEST = Statement(_visible_by_digest)


def find_manifest_by_digest(repository_id: int, digest: str, now_ms: int,
                            allow_dead: bool = False,
                            datatype_only: bool = False) -> Optional[tuple]:
    """The visible manifest with that digest (``allow_dead``: under any tag row), or None.

    Flat row of the manifest's columns (``datatype_only``: the Manifest datatype's); one
    query; None for a malformed digest.
    """
    if not validation.is_valid_digest(digest):
        return None
    return _VISIBLE_BY_DIGEST.first((bool(allow_dead), datatype_only),
                                    repository_id=repository_id, digest=digest, now=now_ms)


def _by_id(by_digest: bool):
    query = (Manifest.select(*_manifest_columns(), Manifest.repository)
             .where(Manifest.id == param("manifest_id")))
    return query.where(Manifest.digest == param("digest")) if by_digest else query


_BY_ID = Statement(_by_id)


def get_manifest(manifest_id: int, digest: Optional[str] = None) -> Optional[tuple]:
    """The manifest of that id (checked against its digest when given), flat row: one query.

    A caller's handle can outlive its row and SQLite gives freed ids again; the digest
    makes a stale handle name nothing instead of another manifest.
    """
    return _BY_ID.first((digest is not None,), manifest_id=manifest_id, digest=digest)


def manifest_repository(manifest_id: int, digest: str):
    """The Repository row (namespace joined) holding the manifest of that id and digest: one
    query; None when there is none."""
    return (Repository.select(Repository, Namespace).join(Namespace)
            .switch(Repository).join(Manifest, on=(Manifest.repository == Repository.id))
            .where(Manifest.id == manifest_id, Manifest.digest == digest).get_or_none())


_FOR_TAG = Statement(lambda datatype_only: (
    Manifest.select(*_manifest_columns(datatype_only))
    .join(Tag, on=(Tag.manifest == Manifest.id))
    .where(Tag.id == param("tag_id"), Tag.name == param("name"))))


def get_manifest_for_tag(tag_id: int, tag_name: str,
                         datatype_only: bool = False) -> Optional[tuple]:
    """The manifest the tag row points at (the row checked by its name), flat: one query.

    ``datatype_only``: only the columns of a Manifest datatype.
    """
    return _FOR_TAG.first((datatype_only,), tag_id=tag_id, name=tag_name)


def _owned_image_manifest():
    other = Tag.alias("other_tag")
    others = (other.select(other.id)
              .where(other.manifest == Manifest.id, alive_clause(param("now"), other),
                     other.id != param("tag_id")))
    # The tag's manifest id as a scalar subquery, not a join: PostgreSQL plans it in half
    # the time (an InitPlan whose value is the primary key probed), and planning is most
    # of this statement's time there.
    tagged = Tag.select(Tag.manifest).where(Tag.id == param("tag_id"), Tag.name == param("name"))
    return (Manifest.select(Manifest.id, Manifest.digest, Manifest.layer_history)
            .where(Manifest.id == tagged, ~fn.EXISTS(others)))


_OWNED_IMAGE_MANIFEST = Statement(_owned_image_manifest)


def get_owned_image_manifest(tag_id: int, tag_name: str, now_ms: int) -> Optional[tuple]:
    """The (id, digest, layer_history) of the manifest the tag row points at (the row
    checked by its name), what the legacy view needs of it, when no other alive tag row
    (hidden ones too) points at it: one query; None when one does or there is no such tag.
    """
    return _OWNED_IMAGE_MANIFEST.first(tag_id=tag_id, name=tag_name, now=now_ms)


def _referrers(by_type: bool):
    query = (Manifest.select(Manifest.digest, Manifest.media_type, Manifest.artifact_type,
                             Manifest.manifest_bytes)
             .where(Manifest.repository == param("repository_id"),
                    Manifest.subject == param("subject"))
             .order_by(Manifest.id))
    return query.where(Manifest.artifact_type == param("artifact_type")) if by_type else query


_REFERRERS = Statement(_referrers)


def find_referrers(repository_id: int, subject_digest: str,
                   artifact_type: Optional[str] = None) -> list:
    """The repository's manifests whose subject is that digest, oldest first: one query.

    Plain tuples (digest, media_type_id, artifact_type, manifest_bytes). The subject need
    not be stored (a referrer may arrive first); ``artifact_type`` keeps only that
    type. A malformed digest has no referrers (no query).
    """
    if not validation.is_valid_digest(subject_digest):
        return []
    return _REFERRERS.tuples((artifact_type is not None,), repository_id=repository_id,
                             subject=subject_digest, artifact_type=artifact_type)


def _expires_after():
    """Scalar subquery: the value of the manifest's newest ``quay.expires-after`` label."""
    return (Label.select(Label.value).join(ManifestLabel)
            .where(ManifestLabel.manifest == Manifest.id, Label.key == EXPIRES_AFTER_KEY)
            .order_by(Label.id.desc()).limit(1).alias("expires_after"))


def _existing(repository_id: int, digest: str) -> Optional[Manifest]:
    # Locked, as a collector locks the manifests it deletes: it waits for this push,
    # or this push finds the row gone and stores it anew. Its expires-after label
    # comes along, for a re-push to give its tag the same lifetime as the first push.
    return locked(Manifest.select(Manifest, _expires_after())
                  .where(Manifest.repository == repository_id, Manifest.digest == digest)
                  ).get_or_none()


def _children(repository_id: int, parsed: ParsedManifest) -> dict:
    """``{digest: manifest id}`` of the list's children, locked; the first missing raises."""
    wanted = [child.digest for child in parsed.child_manifests]
    if not wanted:
        return {}
    found = dict(locked(Manifest.select(Manifest.digest, Manifest.id)
                        .where(Manifest.repository == repository_id,
                               Manifest.digest.in_(sorted(set(wanted))))).tuples())
    for digest in wanted:
        if digest not in found:
            raise errors.ManifestChildUnknownException(
                "child manifest %s of %s is not in the repository" % (digest, parsed.digest))
    return found


def _blobs(repository_id: int, parsed: ParsedManifest, now_s: int) -> dict:
    """``{digest: blob row}`` of the manifest's blobs linked to the repository, locked."""
    wanted = list(parsed.blob_digests)
    if not wanted:
        return {}
    found = blob_model.get_repository_blobs(repository_id, wanted, now_s)
    for digest in wanted:
        if digest not in found:
            raise errors.ManifestBlobUnknownException(
                "blob %s of manifest %s is not in the repository" % (digest, parsed.digest))
    return found


def store_manifest(repository_id: int, parsed: ParsedManifest, now_s: int,
                   layer_history: Optional[str] = None) -> tuple:
    """Store the parsed manifest in the repository, in the caller's transaction.

    ``(manifest row, created)``: a manifest already stored under that digest is returned
    as it is, with ``expires_after`` the value of its newest ``quay.expires-after``
    label or None (1 statement). Otherwise every blob must be linked to the repository at
    ``now_s`` (ManifestBlobUnknownException naming it) and every child stored in it
    (ManifestChildUnknownException naming it), then the manifest, its blob rows and its
    child rows are written: at most 6 statements whatever the number of layers or
    children. A concurrent store of the same digest fails the unique rule
    (IntegrityError), for the caller's retry to find the winner's row.
    """
    validation.check_manifest_size(len(parsed.bytes))
    existing = _existing(repository_id, parsed.digest)
    if existing is not None:
        return existing, False
    media_type_id = lookup.media_type_id(parsed.media_type)
    children = _children(repository_id, parsed)
    blobs = _blobs(repository_id, parsed, now_s)
    config = parsed.config
    row = Manifest.create(
        repository=repository_id, digest=parsed.digest, media_type=media_type_id,
        manifest_bytes=parsed.bytes,
        config_media_type=config.media_type if config is not None else None,
        artifact_type=parsed.artifact_type,
        subject=parsed.subject.digest if parsed.subject is not None else None,
        layers_compressed_size=parsed.layers_compressed_size, layer_history=layer_history)
    if blobs:
        ManifestBlob.insert_many([{"repository": repository_id, "manifest": row.id,
                                   "blob": blob.id} for blob in blobs.values()]).execute()
    if children:
        ManifestChild.insert_many([{"repository": repository_id, "manifest": row.id,
                                    "child_manifest": child_id}
                                   for child_id in sorted(set(children.values()))]).execute()
    return row, True


_IMAGE_MANIFESTS = Statement(lambda: (
    Manifest.select(Manifest.id, Manifest.digest, Manifest.layer_history)
    .where(Manifest.repository == param("repository_id"),
           Manifest.layer_history.is_null(False))
    .order_by(Manifest.id)))


def image_manifests(repository_id: int) -> list:
    """Every image manifest of the repository (id, digest, layer_history), by id: one query."""
    return _IMAGE_MANIFESTS.rows(repository_id=repository_id)


def _by_digest_prefix():
    ranges = [(Manifest.digest >= param(algorithm + "_low"))
              & (Manifest.digest < param(algorithm + "_high")) for algorithm in ALGORITHMS]
    return (Manifest.select(Manifest.id, Manifest.digest, Manifest.layer_history)
            .where(Manifest.repository == param("repository_id"),
                   Manifest.layer_history.is_null(False), ranges[0] | ranges[1])
            .order_by(Manifest.id).limit(1))


_BY_DIGEST_PREFIX = Statement(_by_digest_prefix)


def find_image_manifest_by_prefix(repository_id: int, hex_prefix: str) -> Optional[tuple]:
    """The image manifest whose digest's hex starts with ``hex_prefix``: one index range scan.

    ``hex_prefix`` must be lowercase hex (the caller parsed it from a V1 id).
    """
    bounds = {}
    for algorithm in ALGORITHMS:
        bounds[algorithm + "_low"] = "%s:%s" % (algorithm, hex_prefix)
        bounds[algorithm + "_high"] = "%s:%s" % (algorithm, hex_prefix + "g")  # after any hex
    return _BY_DIGEST_PREFIX.first(repository_id=repository_id, **bounds)


def _by_v1_id():
    # The V1 id is searched as the exact text the kept history holds ('"v1_id": "<id>"')
    # by a case-sensitive substring test on every backend (peewee's LIKE is GLOB on
    # SQLite, case-blind LIKE elsewhere). strpos is PostgreSQL's name for instr.
    finder = fn.strpos if backend_name() == "postgresql" else fn.instr
    return (Manifest.select(Manifest.id, Manifest.digest, Manifest.layer_history)
            .where(Manifest.repository == param("repository_id"),
                   Manifest.layer_history.is_null(False),
                   finder(Manifest.layer_history, param("needle")) > 0)
            .order_by(Manifest.id).limit(1))


_BY_V1_ID = Statement(_by_v1_id)


def find_schema1_manifest_by_v1_id(repository_id: int, docker_image_id: str) -> Optional[tuple]:
    """The backfilled schema 1 manifest whose legacy images include that V1 id: one query.

    ``docker_image_id`` must be 64 lowercase hex digits (the caller checked). It scans the
    repository's image manifests (no index holds V1 ids), which only V1 ids of backfilled
    schema 1 images need; synthetic ids keep the digest range scan.
    """
    return _BY_V1_ID.first(repository_id=repository_id,
                           needle='"v1_id": "%s"' % docker_image_id)
