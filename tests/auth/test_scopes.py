from registry_model.auth.scopes import Scope, challenge_scope, parse_scopes


def test_scopes_are_read_from_several_parameters_and_spaces():
    assert parse_scopes(["repository:acme/app:pull,push repository:acme/db:pull",
                         "repository:bob/x:*"]) == [
        Scope("acme", "app", ("pull", "push")), Scope("acme", "db", ("pull",)),
        Scope("bob", "x", ("pull", "push", "delete"))]


def test_names_outside_the_grammar_and_other_types_are_dropped():
    assert parse_scopes(["repository:Acme/app:pull", "repository:acme/../bob/app:push",
                         "repository:acme%2Fapp:pull", "repository:acme:pull",
                         "registry:catalog:*", "repository:acme/app/x:pull"]) == []


def test_unknown_actions_are_dropped():
    assert parse_scopes(["repository:acme/app:admin,pull"]) == [Scope("acme", "app", ("pull",))]


def test_a_push_challenge_asks_for_pull_too():
    assert challenge_scope("acme/app", "push") == "repository:acme/app:pull,push"
    assert challenge_scope("acme/app", "pull") == "repository:acme/app:pull"
