"""The click parameter types of the commands' arguments: repositories, tags, digests, names.

Each checks its text against the rules of :mod:`registry_model.validation` and fails with
click's usage error (exit status 2) naming the rule, so bad input never reaches the
database; a tuple passes through unchanged, as click converts defaults again.
"""
from typing import Optional

import click

from registry_model import validation


def _repository_name(value: str) -> Optional[tuple]:
    namespace, slash, name = value.partition("/")
    if (slash and validation.is_valid_namespace_name(namespace)
            and validation.is_valid_repository_name(name)):
        return namespace, name
    return None


class RepositoryNameType(click.ParamType):
    """``namespace/repository``, converted to a ``(namespace, repository)`` pair."""

    name = "NS/REPO"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parsed = _repository_name(value)
        if parsed is None:
            self.fail("%r is not a repository of the form namespace/name (each %s)"
                      % (value, validation.NAME_RULE), param, ctx)
        return parsed


class TagReferenceType(click.ParamType):
    """``namespace/repository:tag``, converted to a ``(namespace, repository, tag)`` triple.

    With ``tag_optional`` the ``:tag`` may be left out and the tag is None.
    """

    name = "NS/REPO:TAG"

    def __init__(self, tag_optional: bool = False) -> None:
        self.tag_optional = tag_optional

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        repository, colon, tag_name = value.rpartition(":")
        if self.tag_optional and ":" not in value:
            repository, colon, tag_name = value, ":", None
        parsed = _repository_name(repository)
        if not (colon and parsed and (tag_name is None or validation.is_valid_tag_name(tag_name))):
            self.fail("%r is not a tag of the form namespace/name%s (namespace and name each "
                      "%s; tag %s)" % (value, "[:tag]" if self.tag_optional else ":tag",
                                       validation.NAME_RULE, validation.TAG_RULE), param, ctx)
        return parsed + (tag_name,)


class ManifestReferenceType(click.ParamType):
    """``namespace/repository:tag`` or ``namespace/repository@digest``, as a 4-tuple.

    Converted to ``(namespace, repository, tag, None)`` or ``(namespace, repository, None,
    digest)``.
    """

    name = "NS/REPO:TAG|NS/REPO@DIGEST"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        repository, at, digest = value.partition("@")
        if at:
            parsed = _repository_name(repository)
            if parsed is None or not validation.is_valid_digest(digest):
                self.fail("%r is not of the form namespace/name@algorithm:hex" % value,
                          param, ctx)
            return parsed + (None, digest)
        return TagReferenceType().convert(value, param, ctx) + (None,)


class TagNameType(click.ParamType):
    """A tag name: letters, digits, ``_ . -``, not starting with ``.`` or ``-``."""

    name = "TAG"

    def convert(self, value, param, ctx):
        if not validation.is_valid_tag_name(value):
            self.fail("%r is not a tag name (%s)" % (value, validation.TAG_RULE), param, ctx)
        return value


class DigestType(click.ParamType):
    """A content digest such as ``sha256:<64 hex>``."""

    name = "DIGEST"

    def convert(self, value, param, ctx):
        if not validation.is_valid_digest(value):
            self.fail("%r is not a digest of the form sha256:<64 hex digits>" % value,
                      param, ctx)
        return value


class NamespaceNameType(click.ParamType):
    """A namespace name."""

    name = "NS"

    def convert(self, value, param, ctx):
        if not validation.is_valid_namespace_name(value):
            self.fail("%r is not a namespace name (%s)" % (value, validation.NAME_RULE),
                      param, ctx)
        return value
