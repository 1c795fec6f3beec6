"""The contract every implementation keeps, exactly as DESIGN states it.

A Tag carries the same fields whichever method returns it; a reference of the wrong type
(None included) raises TypeError before any statement; ``RepositoryReference.for_repo_obj``
works from a row alone.
"""
import inspect

import pytest

from registry_model.database import Repository
from registry_model.datatypes import RepositoryReference, RepositoryState
from registry_model.interface import RegistryDataInterface
from registry_model.testing.budgets import budgeted_methods
from registry_model.testing.builders import layer_bytes
from registry_model.testing.queries import count_statements

# Arguments of each kind the interface takes, by parameter name.
REFERENCE_PARAMETERS = ("repository_ref", "target_repository_ref")
HANDLE_PARAMETERS = ("tag", "manifest")


def _methods_taking(parameters) -> list:
    taking = []
    for name in budgeted_methods():
        signature = inspect.signature(getattr(RegistryDataInterface, name))
        for parameter in signature.parameters:
            if parameter in parameters:
                taking.append(pytest.param(name, parameter, id="%s-%s" % (name, parameter)))
    return taking


def _arguments(name: str, none_parameter: str, valid: dict) -> dict:
    """Keyword arguments for ``name``: None for ``none_parameter``, plausible values else."""
    signature = inspect.signature(getattr(RegistryDataInterface, name))
    arguments = {}
    for parameter in list(signature.parameters)[1:]:
        if parameter == none_parameter:
            arguments[parameter] = None
        elif parameter in valid:
            arguments[parameter] = valid[parameter]
        elif signature.parameters[parameter].default is inspect.Parameter.empty:
            arguments[parameter] = None
    return arguments


@pytest.fixture
def pushed(builder):
    """``devtable/contract`` with ``latest`` pushed: ``(ref, PushedImage)``."""
    ref = builder.repository("devtable", "contract")
    return ref, builder.push_image(ref, "latest", layers=layer_bytes(2, "contract"))


def _valid_arguments(registry_model, builder, ref, image) -> dict:
    blob = registry_model.get_repo_blob_by_digest(ref, image.blob_digests[0])
    return {"repository_ref": ref, "target_repository_ref": ref, "tag": image.tag,
            "manifest": image.manifest, "tag_names": ["latest"], "tag_name": "latest",
            "manifest_digest": image.manifest.digest, "docker_image_id": image.tag.docker_image_id,
            "blob_digest": image.blob_digests[0], "blob": blob, "blob_digests": [],
            "blob_upload_id": "00000000-0000-0000-0000-000000000000",
            "upload_id": "00000000-0000-0000-0000-000000000001", "location_name": "local",
            "storage_metadata": None, "store": builder.store, "expiration_sec": 60,
            "manifest_or_legacy_image": image.manifest, "key": "k", "value": "v",
            "source_type_name": "api", "label_uuid": "x", "expiration_date": None,
            "manifest_interface_instance": builder.image_manifest(ref, "other", [b"other"]),
            "storage": None, "legacy_manifest_key": None}


def _statements_before_type_error(registry_model, builder, pushed, method, parameter) -> list:
    """Call ``method`` with None for ``parameter``; assert TypeError, return the SQL sent."""
    ref, image = pushed
    arguments = _arguments(method, parameter, _valid_arguments(registry_model, builder, ref,
                                                               image))
    with count_statements() as counted:
        with pytest.raises(TypeError):
            getattr(registry_model, method)(**arguments)
    return counted.statements


@pytest.mark.parametrize("method,parameter", _methods_taking(REFERENCE_PARAMETERS))
def test_a_none_repository_reference_raises_type_error_before_any_statement(
        registry_model, builder, pushed, method, parameter):
    assert _statements_before_type_error(registry_model, builder, pushed, method,
                                         parameter) == []


@pytest.mark.parametrize("method,parameter", _methods_taking(HANDLE_PARAMETERS))
def test_a_none_tag_or_manifest_raises_type_error_before_any_statement(
        registry_model, builder, pushed, method, parameter):
    assert _statements_before_type_error(registry_model, builder, pushed, method,
                                         parameter) == []


@pytest.mark.parametrize("names", ["latest", b"latest"], ids=["str", "bytes"])
def test_find_matching_tag_with_a_string_instead_of_a_list_raises_type_error(registry_model,
                                                                            pushed, names):
    ref, _ = pushed
    with pytest.raises(TypeError):
        registry_model.find_matching_tag(ref, names)


def test_find_matching_tag_takes_a_tuple_as_well_as_a_list(registry_model, pushed):
    ref, image = pushed
    assert registry_model.find_matching_tag(ref, ("missing", "latest")) == (
        registry_model.find_matching_tag(ref, ["missing", "latest"]))


def test_a_tag_carries_the_same_fields_whichever_method_returns_it(registry_model, builder):
    ref = builder.repository("devtable", "same")
    older = builder.push_image(ref, "older", layers=layer_bytes(1, "older"))
    copied = registry_model.retarget_tag(ref, "copy", older.manifest, None, None)
    pushed = builder.push_image(ref, "latest", layers=layer_bytes(2, "latest"))
    for returned, name in ((pushed.tag, "latest"), (copied, "copy")):
        assert returned.manifest_digest is not None
        history, _ = registry_model.list_repository_tag_history(ref, specific_tag_name=name)
        seen = {
            "returned by the write": returned,
            "find_matching_tag": registry_model.find_matching_tag(ref, [name]),
            "get_repo_tag": registry_model.get_repo_tag(ref, name),
            "list_all_active_repository_tags": next(
                t for t in registry_model.list_all_active_repository_tags(ref) if t.name == name),
            "lookup_active_repository_tags": next(
                t for t in registry_model.lookup_active_repository_tags(ref) if t.name == name),
            "list_repository_tag_history": history[0],
        }
        if name == "latest":
            seen["get_most_recent_tag"] = registry_model.get_most_recent_tag(ref)
        different = {method: tag for method, tag in seen.items() if tag != returned}
        assert different == {}, "differs from %r" % (returned,)


def test_for_repo_obj_builds_a_reference_from_a_repository_row_alone(registry_model, builder):
    ref = builder.repository("devtable", "fromrow", visibility="public")
    row = Repository.get_by_id(ref.id)
    built = RepositoryReference.for_repo_obj(row)
    assert built == ref
    assert (built.namespace_name, built.kind, built.is_public, built.state) == (
        "devtable", "image", True, RepositoryState.NORMAL)


def test_an_ended_tag_carries_the_same_fields_as_its_history_row(registry_model, builder):
    ref = builder.repository("devtable", "ended")
    pushed = builder.push_image(ref, "latest", layer_bytes(1, "ended"))
    registry_model.retarget_tag(ref, "copy", pushed.manifest, None, None)
    deleted = registry_model.delete_tag(ref, "latest")
    [for_manifest] = registry_model.delete_tags_for_manifest(pushed.manifest)
    history = {tag.name: tag for tag in registry_model.list_repository_tag_history(ref)[0]}
    assert {"delete_tag": deleted, "delete_tags_for_manifest": for_manifest} == {
        "delete_tag": history["latest"], "delete_tags_for_manifest": history["copy"]}
