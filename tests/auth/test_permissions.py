from registry_model.auth.permissions import Grant, held_actions


def test_the_owner_holds_everything_in_its_namespace():
    assert held_actions("alice", [], "alice", "app") == {"pull", "push", "delete"}
    assert held_actions("alice", [], "bob", "app") == set()


def test_grants_give_their_action_where_they_apply():
    grants = [Grant("acme", None, "pull"), Grant("corp", "web", "push")]
    assert held_actions("bob", grants, "acme", "any") == {"pull"}
    assert held_actions("bob", grants, "corp", "web") == {"pull", "push", "delete"}
    assert held_actions("bob", grants, "corp", "db") == set()
    assert held_actions("bob", grants, "acmex", "any") == set()


def test_public_repositories_pull_for_anyone():
    assert held_actions(None, [], "acme", "app", is_public=True) == {"pull"}
    assert held_actions(None, [], "acme", "app") == set()
