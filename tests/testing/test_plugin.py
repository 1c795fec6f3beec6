"""The registry_model pytest plugin: registered by entry point, isolating, usable downstream."""
import importlib.metadata
import subprocess
import sys
import textwrap

import registry_model.testing.plugin
from registry_model.database import Namespace
from registry_model.interface import RegistryDataInterface
from registry_model.oci.model import OCIModel
from registry_model.registry_pre_oci_model import PreOCIModel
from registry_model.testing.factories import NamespaceFactory

pytest_plugins = ["pytester"]

# Written by the first of two tests in this module, looked for by the second.
ISOLATION_PROBE = "plugin-isolation-probe"


def test_plugin_is_registered_through_the_pytest11_entry_point(request):
    entry_points = {ep.name: ep for ep in importlib.metadata.entry_points(group="pytest11")}
    assert entry_points["registry_model"].value == "registry_model.testing.plugin"
    assert request.config.pluginmanager.get_plugin("registry_model") is \
        registry_model.testing.plugin


def test_registry_model_fixture_is_a_pre_oci_model(registry_model):
    assert isinstance(registry_model, PreOCIModel)
    assert isinstance(registry_model, RegistryDataInterface)


def test_oci_model_fixture_is_an_oci_model_on_the_same_database(oci_model, registry_model):
    assert isinstance(oci_model, OCIModel) and isinstance(oci_model, RegistryDataInterface)
    created = oci_model.create_repository("plugin", "oci", create_namespace=True)
    assert registry_model.get_repository("plugin", "oci") == created


def test_initialized_db_keeps_rows_written_during_the_test(initialized_db):
    NamespaceFactory(name=ISOLATION_PROBE)
    assert Namespace.select().where(Namespace.name == ISOLATION_PROBE).count() == 1


def test_initialized_db_drops_rows_of_the_previous_test(initialized_db):
    # Runs after the test above (file order): its namespace must be gone.
    assert Namespace.select().where(Namespace.name == ISOLATION_PROBE).count() == 0


DOWNSTREAM_SUITE = '''
    """A downstream project's tests: no conftest, only the installed plugin and factories."""
    from registry_model.database import Namespace
    from registry_model.model import namespace as namespace_model
    from registry_model.testing.factories import (
        ImageFactory,
        RepositoryFactory,
        RepositoryTagFactory,
    )


    def test_latest_points_at_top(registry_model):
        repo = RepositoryFactory(namespace__name="devtable", name="simple")
        top = ImageFactory(parent=ImageFactory(repository=repo))
        RepositoryTagFactory(repository=repo, name="latest", image=top)
        ref = registry_model.lookup_repository("devtable", "simple")
        found = registry_model.find_matching_tag(ref, ["latest"])
        assert found.docker_image_id == top.docker_image_id


    def test_write_then_fail(initialized_db):
        namespace_model.create_namespace("leaky")
        RepositoryFactory(namespace__name="devtable", name="other")
        assert False, "fails on purpose after writing"


    def test_nothing_leaked(registry_model):
        assert registry_model.lookup_repository("devtable", "simple") is None
        assert registry_model.lookup_repository("devtable", "other") is None
        assert Namespace.select().where(Namespace.name.in_(["devtable", "leaky"])).count() == 0
'''


def test_downstream_suite_gets_fixtures_and_isolation_from_the_installed_plugin(pytester):
    pytester.makepyfile(test_downstream=textwrap.dedent(DOWNSTREAM_SUITE))

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", timeout=300)

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_downstream.py::test_latest_points_at_top PASSED*",
                                 "*test_downstream.py::test_write_then_fail FAILED*",
                                 "*test_downstream.py::test_nothing_leaked PASSED*"])


def test_downstream_suite_loses_the_fixtures_without_the_plugin(pytester):
    pytester.makepyfile(test_downstream="def test_uses(initialized_db):\n    pass\n")

    result = pytester.runpytest_subprocess("-p", "no:registry_model", "-p", "no:cacheprovider",
                                           timeout=300)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'initialized_db' not found*"])


WITHOUT_FACTORY_BOY = '''
import sys
sys.modules["factory"] = None  # as if factory-boy were not installed
import registry_model.testing.plugin  # the pytest11 entry point must still load
try:
    import registry_model.testing.factories
except ImportError as exc:
    print(exc)
else:
    raise SystemExit("imported the factories without factory-boy")
'''


def test_plugin_loads_without_factory_boy_and_factories_say_how_to_install_it():
    done = subprocess.run([sys.executable, "-c", WITHOUT_FACTORY_BOY], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "needs factory-boy" in done.stdout
    assert "pip install 'registry_model[testing]'" in done.stdout
